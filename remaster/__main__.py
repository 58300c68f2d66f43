from remaster.commands.cli import main

main()
