return SharpLens.Cli.App.Run(args);
