// Compiled by MSBuild's RoslynCodeTaskFactory (see Microsoft.ML.Ntk.targets) and by the tests.
// Keep it to netstandard2.0 APIs: inside Visual Studio, MSBuild runs on .NET Framework.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so lists the symbol version GLIBCXX_3.4.32 as required,
// which the libstdc++ of Debian 12 (and other glibc 2.36-era systems) does not define, so dlopen
// refuses the file. The only symbol bound to that version has no relocation, so the requirement can
// be marked weak (VER_FLG_WEAK): the loader then warns instead of failing, and where libstdc++ is new
// enough nothing changes at all.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Microsoft.ML.Ntk.Build
{
    /// <summary>Reads and edits the version-needed table (SHT_GNU_verneed) of a 64-bit little-endian ELF file.</summary>
    public static class ElfVersionNeeds
    {
        /// <summary>The flag that turns a required symbol version into an optional one.</summary>
        public const ushort WeakFlag = 2;
        private const uint SectionTypeVersionNeeds = 0x6ffffffe;

        /// <summary>One entry of the table: a version name required from a library, with its flags.</summary>
        public sealed class Entry
        {
            internal Entry(string library, string version, ushort flags, long flagsOffset)
            {
                Library = library; Version = version; Flags = flags; FlagsOffset = flagsOffset;
            }
            /// <summary>The library the version is needed from, e.g. libstdc++.so.6.</summary>
            public string Library { get; }
            /// <summary>The version name, e.g. GLIBCXX_3.4.32.</summary>
            public string Version { get; }
            /// <summary>The vna_flags field.</summary>
            public ushort Flags { get; }
            /// <summary>File offset of the vna_flags field.</summary>
            public long FlagsOffset { get; }
            /// <summary>True when the loader only warns if the version is missing.</summary>
            public bool IsWeak { get { return (Flags & WeakFlag) != 0; } }
        }

        /// <summary>All version requirements of the file; empty when it is not a 64-bit little-endian ELF file.</summary>
        public static IReadOnlyList<Entry> Read(byte[] elf)
        {
            var entries = new List<Entry>();
            if (!IsElf64LittleEndian(elf)) return entries;
            long sectionTable = (long)U64(elf, 0x28);
            int sectionSize = U16(elf, 0x3A), sectionCount = U16(elf, 0x3C);
            for (int i = 0; i < sectionCount; i++)
            {
                long header = sectionTable + (long)i * sectionSize;
                if (header + 64 > elf.Length || U32(elf, header + 4) != SectionTypeVersionNeeds) continue;
                long strings = (long)U64(elf, sectionTable + (long)U32(elf, header + 40) * sectionSize + 24);
                ReadNeeds(elf, (long)U64(elf, header + 24), (int)U32(elf, header + 44), strings, entries);
            }
            return entries;
        }

        /// <summary>Sets or clears the weak flag of every requirement of the given version; returns how many changed.</summary>
        public static int SetWeak(byte[] elf, string version, bool weak)
        {
            int changed = 0;
            foreach (var entry in Read(elf))
            {
                if (entry.Version != version || entry.IsWeak == weak) continue;
                ushort flags = weak ? (ushort)(entry.Flags | WeakFlag) : (ushort)(entry.Flags & ~WeakFlag);
                elf[entry.FlagsOffset] = (byte)flags;
                elf[entry.FlagsOffset + 1] = (byte)(flags >> 8);
                changed++;
            }
            return changed;
        }

        /// <summary>
        /// Marks the version weak in the file at <paramref name="path"/>. A file that needs no change is
        /// not written. Otherwise the edited copy replaces the file by a rename, so a hard or symbolic
        /// link into a package cache is replaced, never written through.
        /// </summary>
        public static int WeakenInPlace(string path, string version)
        {
            byte[] elf = File.ReadAllBytes(path);
            int changed = SetWeak(elf, version, true);
            if (changed == 0) return 0;
            string temporary = path + ".ntk-" + Guid.NewGuid().ToString("N");
            try
            {
                File.WriteAllBytes(temporary, elf);
                File.Replace(temporary, path, null);
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
            return changed;
        }

        private static void ReadNeeds(byte[] elf, long offset, int count, long strings, List<Entry> entries)
        {
            for (int n = 0; n < count && offset + 16 <= elf.Length; n++)
            {
                int auxCount = U16(elf, offset + 2);
                string library = CString(elf, strings + U32(elf, offset + 4));
                long aux = offset + U32(elf, offset + 8);
                for (int a = 0; a < auxCount && aux + 16 <= elf.Length; a++)
                {
                    string version = CString(elf, strings + U32(elf, aux + 8));
                    entries.Add(new Entry(library, version, (ushort)U16(elf, aux + 4), aux + 4));
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(elf, offset + 12);
                if (next == 0) break;
                offset += next;
            }
        }

        private static bool IsElf64LittleEndian(byte[] b)
        {
            return b.Length >= 64 && b[0] == 0x7F && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F'
                && b[4] == 2 && b[5] == 1;
        }

        private static int U16(byte[] b, long o) { return b[o] | (b[o + 1] << 8); }
        private static uint U32(byte[] b, long o) { return (uint)(U16(b, o) | (U16(b, o + 2) << 16)); }
        private static ulong U64(byte[] b, long o) { return U32(b, o) | ((ulong)U32(b, o + 4) << 32); }

        private static string CString(byte[] b, long o)
        {
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }
}

#if !NTK_TESTS
namespace Microsoft.ML.Ntk.Build
{
    /// <summary>MSBuild task: marks GLIBCXX_3.4.32 weak in the output copies of libLibTorchSharp.so.</summary>
    public class WeakenTorchSharpGlibcxx : Microsoft.Build.Utilities.Task
    {
        /// <summary>The libLibTorchSharp.so files of the build or publish output.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = new Microsoft.Build.Framework.ITaskItem[0];

        /// <summary>Runs the task.</summary>
        public override bool Execute()
        {
            foreach (var file in Files)
            {
                string path = file.GetMetadata("FullPath");
                try
                {
                    int changed = ElfVersionNeeds.WeakenInPlace(path, "GLIBCXX_3.4.32");
                    if (changed > 0)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                            "Microsoft.ML.Ntk: marked GLIBCXX_3.4.32 weak in " + path);
                }
                catch (Exception ex)
                {
                    Log.LogWarning("Microsoft.ML.Ntk: could not mark GLIBCXX_3.4.32 weak in " + path + ": " + ex.Message
                        + ". TorchSharp may fail to load on systems whose libstdc++ is older than GCC 13.");
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
}
#endif
