using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Microsoft.ML.Ntk.Tests.Native;

/// <summary>
/// TorchSharp frees the Scalars it makes implicitly (from a number passed where a Scalar is expected, or an operator between
/// a tensor and a number) in finalizers that may run while libtorch reads them (notes in ScalarSafe). This test reads the
/// library's compiled code and lists every call to Scalar's implicit conversion and to a Tensor operator with a number
/// operand: there must be none. (The forced-collection tests find such a call only by chance; this finds every one.)
/// </summary>
public class ImplicitScalarScanTests
{
    [Fact]
    public void TheLibraryMakesNoImplicitScalar()
    {
        var found = ImplicitScalarCalls(typeof(PretrainedNetwork).Assembly.Location).ToList();
        Assert.True(found.Count == 0, "implicit Scalars in: " + string.Join("; ", found));
    }

    [Fact]
    public void TheScanFindsAnImplicitScalarInThisTestAssembly()
    {
        // MakesOne below adds a number to a tensor, as the library must not: the scan sees it.
        Assert.Contains(ImplicitScalarCalls(typeof(ImplicitScalarScanTests).Assembly.Location), c => c.Contains(nameof(MakesOne)));
    }

    private static TorchSharp.torch.Tensor MakesOne(TorchSharp.torch.Tensor x) => x + 1.0;

    /// <summary>"Type::Method -> Callee" for each such call in the assembly's method bodies.</summary>
    private static IEnumerable<string> ImplicitScalarCalls(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var suspicious = new Dictionary<int, string>();
        foreach (var handle in md.MemberReferences)
        {
            var reference = md.GetMemberReference(handle);
            if (reference.GetKind() != MemberReferenceKind.Method || reference.Parent.Kind != HandleKind.TypeReference) continue;
            string parent = md.GetString(md.GetTypeReference((TypeReferenceHandle)reference.Parent).Name), name = md.GetString(reference.Name);
            var parameters = reference.DecodeMethodSignature(new TypeNames(), null).ParameterTypes;
            bool numberOperand = name.StartsWith("op_", StringComparison.Ordinal) && parameters.Contains("Tensor") &&
                                 parameters.Any(p => p is "Double" or "Single" or "Int32" or "Int64");
            if ((parent == "Scalar" && name == "op_Implicit") || (parent == "Tensor" && numberOperand))
                suspicious[MetadataTokens.GetToken(handle)] = $"{parent}.{name}({string.Join(", ", parameters)})";
        }
        foreach (var methodHandle in md.MethodDefinitions)
        {
            var method = md.GetMethodDefinition(methodHandle);
            if (method.RelativeVirtualAddress == 0) continue;
            var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
            foreach (int token in CallTokens(il))
                if (suspicious.TryGetValue(token, out string? callee))
                    yield return $"{md.GetString(md.GetTypeDefinition(method.GetDeclaringType()).Name)}::{md.GetString(method.Name)} -> {callee}";
        }
    }

    /// <summary>The tokens of call, callvirt and newobj instructions, walking the IL by each opcode's operand size.</summary>
    private static IEnumerable<int> CallTokens(BlobReader il)
    {
        var tokens = new List<int>();
        while (il.RemainingBytes > 0)
        {
            int code = il.ReadByte();
            if (code == 0xFE) code = 0xFE00 | il.ReadByte();
            switch (OperandSize(code))
            {
                case -1:
                    int count = il.ReadInt32();
                    il.Offset += 4 * count;
                    break;
                case 4 when code is 0x28 or 0x6F or 0x73:
                    tokens.Add(il.ReadInt32());
                    break;
                case int size:
                    il.Offset += size;
                    break;
            }
        }
        return tokens;
    }

    /// <summary>Operand bytes of an opcode (ECMA-335 III); -1 for switch.</summary>
    private static int OperandSize(int code) => code switch
    {
        0x45 => -1,
        0x21 or 0x23 => 8,
        0x20 or 0x22 or 0x28 or 0x29 or 0x6F or 0x70 or 0x71 or 0x72 or 0x73 or 0x74 or 0x75 or 0x79 or 0x7B or 0x7C or 0x7D or 0x7E or 0x7F
            or 0x80 or 0x81 or 0x8C or 0x8D or 0x8F or 0xA3 or 0xA4 or 0xA5 or 0xC2 or 0xC6 or 0xD0 or 0xDD or 0x27 or 0xFE06 or 0xFE07
            or 0xFE15 or 0xFE16 or 0xFE1C => 4,
        >= 0x38 and <= 0x44 => 4,
        >= 0x2B and <= 0x37 => 1,
        0x0E or 0x0F or 0x10 or 0x11 or 0x12 or 0x13 or 0x1F or 0xDE or 0xFE12 or 0xFE19 => 1,
        0xFE09 or 0xFE0A or 0xFE0B or 0xFE0C or 0xFE0D or 0xFE0E => 2,
        _ => 0,
    };

    private sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string genericType, System.Collections.Immutable.ImmutableArray<string> typeArguments) => genericType;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => "spec";
    }
}
