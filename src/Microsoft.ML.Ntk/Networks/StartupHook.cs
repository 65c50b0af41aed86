/// <summary>
/// The .NET startup hook (a class of this name in no namespace, by the runtime's convention) that makes a child process
/// of <see cref="Microsoft.ML.Ntk.Networks.TorchScriptProbe"/> load one TorchScript archive and exit before the
/// application's Main. In any other process it does nothing: the runtime calls it only when DOTNET_STARTUP_HOOKS names
/// this library, which only the probe sets.
/// </summary>
internal static class StartupHook
{
    public static void Initialize() => Microsoft.ML.Ntk.Networks.TorchScriptProbe.RunIfAsked();
}
