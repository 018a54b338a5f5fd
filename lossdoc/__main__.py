from lossdoc.cli import main

main()
