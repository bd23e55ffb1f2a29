global using Xunit;
global using FastPrefix.Kernels.Device;
global using FastPrefix.Kernels.KernelCompiler;
global using FastPrefix.Kernels.Tests.Support;
