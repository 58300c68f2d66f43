from remaster.cli import main

main()
