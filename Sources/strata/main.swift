import StrataCommands

StrataMain.main()
