import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import PalaceMock

/// The mock writes its own `Date` header (no Foundation Calendar, no ICU in the server): RFC 9110 IMF-fixdate.
@Suite struct HTTPDateTests {
    @Test func knownInstants() {
        #expect(HTTPDate.format(unixTime: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(unixTime: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")   // RFC 9110's example
        #expect(HTTPDate.format(unixTime: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")   // leap day, century
        #expect(HTTPDate.format(unixTime: 4_107_542_399) == "Sun, 28 Feb 2100 23:59:59 GMT")   // 2100 is no leap year
        #expect(HTTPDate.format(unixTime: 4_107_542_400) == "Mon, 01 Mar 2100 00:00:00 GMT")
        #expect(HTTPDate.format(unixTime: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    /// Agrees with Foundation's formatter (ICU) over 400 years of pseudo-random instants, every weekday and month.
    @Test func agreesWithFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<5000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let t = Int((state >> 31) % 12_622_780_800) - 2_208_988_800   // 1900 ... 2300
            #expect(HTTPDate.format(unixTime: t) == formatter.string(from: Date(timeIntervalSince1970: Double(t))),
                    "unix time \(t)")
        }
    }

    @Test func responsesCarryTheCurrentDate() async throws {
        try await withMock { client in
            let response = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer sk-x"])
            let header = try #require(response.headers[.date])
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let date = try #require(formatter.date(from: header), "unparsable Date header \(header)")
            #expect(abs(date.timeIntervalSinceNow) < 60)
        }
    }
}
