from gantrain.commands.train import main

main()
