using Hutong.Cli;

return await HutongCli.RunAsync(args, Console.Out);
