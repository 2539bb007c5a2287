import PalaceWire
import Testing

@testable import PalaceMock

@Suite struct TextGenerationTests {
    @Test func sameSeedGivesSameTokens() {
        var a = TextGenerator(seed: 42)
        var b = TextGenerator(seed: 42)
        #expect(a.text(tokens: 500) == b.text(tokens: 500))
    }

    @Test func differentSeedsDiffer() {
        var a = TextGenerator(seed: 1)
        var b = TextGenerator(seed: 2)
        #expect(a.text(tokens: 50) != b.text(tokens: 50))
    }

    @Test func textMixesChineseAndEnglish() {
        var generator = TextGenerator(seed: 7)
        let text = generator.text(tokens: 400)
        let hasChinese = text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
        let hasLatinWord = text.contains { $0.isASCII && $0.isLetter }
        #expect(hasChinese && hasLatinWord)
    }

    @Test func textIsNotPeriodic() {
        var generator = TextGenerator(seed: 9)
        let tokens = (0..<3000).map { _ in generator.next() }
        // Count repeated 6-token windows: a repeated paragraph would make nearly all of them repeat.
        var seen = Set<String>()
        var repeats = 0
        for start in 0..<(tokens.count - 6) {
            if !seen.insert(tokens[start..<start + 6].joined(separator: "|")).inserted { repeats += 1 }
        }
        #expect(repeats < tokens.count / 50)
    }

    @Test func loopAfterRepeatsOnePhraseForever() {
        var generator = TextGenerator(seed: 3, loopAfter: 5)
        _ = generator.text(tokens: 5)
        let first = (0..<60).map { _ in generator.next() }
        let second = (0..<60).map { _ in generator.next() }
        #expect(Set(first).count <= 7)
        #expect(first.joined().count > 0 && Set(second) == Set(first))
    }

    @Test func escapedTextRoundTripsThroughTheJSONParser() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{07} 中文 emoji 🌙"
        let parsed = try JSONValue.parse("{\"s\":" + JSONText.quoted(nasty) + "}")
        #expect(parsed["s"]?.stringValue == nasty)
    }

    @Test func tokenEstimateCountsCJKPerCharacter() {
        #expect(TokenEstimator.estimate(text: "你好世界") == 4)
        #expect(TokenEstimator.estimate(text: "abcdefgh") == 2)
    }

    @Test func toolArgumentsFollowTheSchema() throws {
        let schema = try JSONValue.parse("""
            {"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},
             "unit":{"type":"string","enum":["c","f"]},"tags":{"type":"array","items":{"type":"string"}}}}
            """)
        var rng = SeededRandom(seed: 5)
        let text = ToolArguments.generate(parameters: schema, rng: &rng)
        let arguments = try JSONValue.parse(text)
        #expect(arguments["city"]?.stringValue != nil)
        #expect(arguments["days"]?.intValue != nil)
        #expect(["c", "f"].contains(arguments["unit"]?.stringValue ?? ""))
        #expect(arguments["tags"]?.arrayValue?.count == 1)
        var again = SeededRandom(seed: 5)
        #expect(ToolArguments.generate(parameters: schema, rng: &again) == text)
    }

    @Test func multipartFormParsesFileAndPurpose() throws {
        let body = Array("--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfile-extract\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ--\r\n".utf8)
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; boundary=\"XyZ\"") == "XyZ")
        let form = try MultipartForm.parse(body, boundary: "XyZ")
        #expect(form.part(named: "purpose")?.content == Array("file-extract".utf8))
        #expect(form.part(named: "file")?.filename == "a.txt")
        #expect(form.part(named: "file")?.content == Array("hello\r\nworld".utf8))
    }
}
