// swift-tools-version:6.0
// moonpalace — a debugging proxy for the Moonshot AI (Kimi) API. Module map: DESIGN.md ("The house").
// Dependencies point down only: moonpalace → PalaceProxy, PalaceIndex, PalaceMock → PalaceWire, PalaceLog → CLZ4.
import PackageDescription

let package = Package(
    name: "moonpalace",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "moonpalace", targets: ["moonpalace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries (Debian: liblz4-dev, libsqlite3-dev, libcurl4-openssl-dev; pkg-config finds them).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // CCurl: headers only, not linked; CCurlShim dlopen()s libcurl.so.4 on first use (its loader.c says why).
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Fixed-signature wrappers for curl's variadic setopt/getinfo, which Swift cannot call; the lazy loader.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // The shipped LZ4 dictionaries as C arrays (compiles instantly; no runtime resource lookup).
        .target(name: "CPalaceDict"),
        // CRC-32C with the CPU's crc32 instruction when it has one (SSE4.2 / ARMv8), portable tables otherwise.
        .target(name: "CPalaceCRC"),
        // The export's byte kernels (UTF-8 check, key-like test, JSON escaping in one SSE2 pass) and O_DIRECT.
        .target(name: "CPalaceText"),
        // The index's FTS5 tokenizer "palace": unicode61 words plus CJK bigrams, straight from the raw text.
        .target(name: "CPalaceFTS", dependencies: ["CSQLite"]),
        // The mock's debug routes: SHA-256 of echoed bodies and streaming gzip (zlib) for X-Mock-Gzip.
        .target(name: "CPalaceMock"),

        .target(name: "PalaceWire"),
        .target(name: "PalaceLog", dependencies: ["CLZ4", "CPalaceDict", "CPalaceCRC"]),
        .target(name: "PalaceIndex", dependencies: ["PalaceLog", "PalaceWire", "CSQLite", "CLZ4", "CPalaceText", "CPalaceFTS"]),
        .target(name: "PalaceMock", dependencies: [
            "PalaceWire", "CPalaceMock",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PalaceProxy", dependencies: [
            "PalaceLog", "PalaceWire", "CCurlShim",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The web admin (/palace/): HTML pages over PalaceIndex, mounted by the CLI into `start` or served by `web`.
        .target(name: "PalaceWeb", dependencies: [
            "PalaceIndex", "PalaceLog", "PalaceWire",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "moonpalace", dependencies: [
            "PalaceLog", "PalaceWire", "PalaceIndex", "PalaceMock", "PalaceProxy", "PalaceWeb",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: [
            // lld (ships with the Swift toolchain) packs the executable's ~0.9 MiB of relative relocations into a few
            // KiB (DT_RELR, glibc >= 2.36), which every start would otherwise page in and walk; it links faster than
            // gold too. Measured on `moonpalace mock`: -1.4 MiB RSS (issue 3's 30 MiB budget).
            .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
        ]),

        .testTarget(name: "PalaceLogTests", dependencies: ["PalaceLog"], exclude: ["Fixtures"]),
        .testTarget(name: "PalaceWireTests", dependencies: ["PalaceWire"]),
        // The HTTP client of the server tests (real sockets on 127.0.0.1), shared by PalaceMockTests and PalaceWebTests.
        .target(name: "TestHTTPClient", dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
                path: "Tests/Support/TestHTTPClient"),
        .testTarget(name: "PalaceMockTests", dependencies: [
            "PalaceMock", "PalaceWire", "TestHTTPClient", .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "PalaceProxyTests", dependencies: ["PalaceProxy", "PalaceLog", "PalaceWire"]),
        .testTarget(name: "PalaceIndexTests", dependencies: ["PalaceIndex", "PalaceLog", "PalaceWire"]),
        .testTarget(name: "PalaceWebTests", dependencies: [
            "PalaceWeb", "PalaceIndex", "PalaceLog", "PalaceWire", "TestHTTPClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
