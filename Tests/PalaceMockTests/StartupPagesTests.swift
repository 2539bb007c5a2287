import HTTPTypes
import Hummingbird
import Testing

@testable import PalaceMock

#if canImport(Glibc)
import Glibc
#endif

/// `moonpalace mock` gives back start-up-only pages once listening (issue 3's RSS budget).
@Suite struct StartupPagesTests {
    @Test func onlyReadOnlyPrivateFileMappingsAreEligible() {
        func parse(_ line: String) -> (start: UInt, end: UInt, eligible: Bool)? {
            StartupPages.parseMappingLine(Array(line.utf8)[...])
        }
        let code = parse("7f1c2a000000-7f1c2a400000 r-xp 00028000 fe:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6")
        #expect(code?.start == 0x7f1c_2a00_0000 && code?.end == 0x7f1c_2a40_0000 && code?.eligible == true)
        #expect(parse("55d5169fd000-55d518cda000 r--p 00000000 fe:01 9 /work/moonpalace")?.eligible == true)
        #expect(parse("55d5169fd000-55d518cda000 rw-p 00000000 fe:01 9 /work/moonpalace")?.eligible == false)
        #expect(parse("7f00000000-7f00001000 r-xs 00000000 00:05 4 /dev/shm/x")?.eligible == false)   // shared
        #expect(parse("7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]")?.eligible == false)
        #expect(parse("7f2b4c000000-7f2b4c021000 r--p 00000000 00:00 0")?.eligible == false)   // anonymous
        #expect(parse("Rss:                 120 kB") == nil)
        #expect(parse("VmFlags: rd ex mr mw me sd") == nil)
        #expect(StartupPages.anonymousKiB(Array("Anonymous:            8 kB".utf8)[...]) == 8)
        #expect(StartupPages.anonymousKiB(Array("Anonymous:            0 kB".utf8)[...]) == 0)
    }

    #if os(Linux)
    /// In this (test) process: file-backed resident memory drops, and code keeps running afterwards (the pages come
    /// back from the page cache) — a real mock request is served after the release.
    @Test func releasesFileBackedPagesAndEverythingStillRuns() async throws {
        let before = try statusKiB("RssFile")
        let advised = StartupPages.release()
        let after = try statusKiB("RssFile")
        #expect(advised > 0)
        #expect(after < before, "RssFile \(before) kB -> \(after) kB")
        try await withMock { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody())
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains("chat.completion"))
        }
    }

    private func statusKiB(_ key: String) throws -> Int {
        let fd = open("/proc/self/status", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let text = String(decoding: buffer[0..<max(n, 0)], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        Issue.record("no \(key) in /proc/self/status")
        return -1
    }
    #endif
}
