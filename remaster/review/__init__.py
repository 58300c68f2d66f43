"""`remaster review`: a local web page where a colorist reviews and edits a film's references."""
