global using Xunit;
global using FastPrefix.Tests.Support;
