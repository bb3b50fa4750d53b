from elava.cli.main import main

main()
