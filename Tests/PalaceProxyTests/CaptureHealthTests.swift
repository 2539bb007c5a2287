import Synchronization
import Testing
@testable import PalaceProxy

struct DiskFull: Error, CustomStringConvertible { var offset: Int; var description: String { "no space left writing at \(offset)" } }

@Suite struct CaptureHealthTests {
    @Test func loudOncePerKindWithRunningCountThenResumes() {
        let said = Mutex<[String]>([])
        let health = CaptureHealth(announce: { m in said.withLock { $0.append(m) } })
        let w1 = health.failed(record: "end", error: DiskFull(offset: 100))
        let w2 = health.failed(record: "end", error: DiskFull(offset: 250))
        health.failed(record: "begin", error: DiskFull(offset: 300))
        #expect(w1.hasSuffix("(1 failure so far)"))
        #expect(w2.hasSuffix("(2 failures so far)"))
        #expect(health.isFailing)
        #expect(said.withLock { $0.count } == 2)   // one per kind, not per failure
        health.succeeded()
        health.succeeded()
        #expect(!health.isFailing)
        let messages = said.withLock { $0 }
        #expect(messages.count == 3 && messages[2].contains("capture resumed (3 record writes failed meanwhile)"))
    }
}
