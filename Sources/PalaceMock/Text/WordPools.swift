/// Vocabulary the mock's text is drawn from. Each entry counts as one token.
///
/// The pools are deliberately large and of mixed length so that seeded draws never settle into a visible period.
enum WordPools {
    static let english: [String] = [
        "the", "a", "model", "request", "response", "stream", "token", "context", "cache", "message",
        "server", "client", "proxy", "moon", "palace", "light", "river", "mountain", "window", "garden",
        "quickly", "slowly", "carefully", "often", "rarely", "always", "never", "perhaps", "indeed", "still",
        "build", "test", "measure", "write", "read", "send", "receive", "answer", "explain", "compare",
        "simple", "clear", "large", "small", "fast", "steady", "careful", "honest", "bright", "quiet",
        "data", "record", "segment", "index", "query", "field", "value", "error", "result", "reason",
        "because", "although", "while", "after", "before", "when", "where", "which", "that", "this",
        "is", "was", "can", "will", "should", "might", "must", "does", "has", "keeps",
        "of", "in", "on", "with", "for", "from", "into", "over", "under", "between",
        "we", "you", "they", "it", "someone", "everyone", "nobody", "each", "every", "some",
        "morning", "evening", "winter", "summer", "journey", "question", "idea", "story", "detail", "pattern",
        "network", "latency", "throughput", "budget", "figure", "decision", "example", "version", "module", "function",
        "and", "or", "but", "so", "then", "also", "only", "even", "just", "more",
        "lantern", "harbor", "paper", "ink", "bridge", "tea", "rain", "cloud", "stone", "bamboo",
    ]

    /// `english` with an upper-case first letter (same indices), for sentence starts.
    static let englishCapitalized: [String] = english.map { $0.prefix(1).uppercased() + $0.dropFirst() }

    static let chinese: [String] = [
        "我们", "你们", "他们", "这个", "那个", "一个", "问题", "答案", "模型", "请求",
        "响应", "数据", "缓存", "上下文", "服务器", "客户端", "代理", "月亮", "宫殿", "灯笼",
        "河流", "山峰", "窗户", "花园", "春天", "夏天", "秋天", "冬天", "早晨", "夜晚",
        "可以", "应该", "需要", "已经", "正在", "仍然", "或许", "其实", "因为", "所以",
        "但是", "而且", "如果", "虽然", "然后", "首先", "其次", "最后", "同时", "另外",
        "分析", "比较", "测试", "测量", "记录", "解释", "理解", "发现", "提供", "保持",
        "简单", "清楚", "快速", "稳定", "仔细", "重要", "明显", "完整", "准确", "可靠",
        "的", "了", "在", "是", "有", "和", "与", "对", "把", "被",
        "结果", "原因", "方法", "步骤", "细节", "例子", "版本", "模块", "函数", "接口",
        "网络", "延迟", "吞吐", "预算", "数字", "决定", "故事", "想法", "旅程", "规律",
        "茶", "雨", "云", "石头", "竹子", "纸", "墨", "桥", "港口", "风",
        "看", "写", "读", "发送", "接收", "回答", "构建", "检查", "观察", "思考",
    ]

    /// Technical terms that show up inside Chinese sentences, as in real Kimi output.
    static let terms: [String] = [
        "Swift", "API", "JSON", "SSE", "HTTP", "token", "Kimi", "Moonshot", "LZ4", "SQLite",
        "async/await", "max_tokens", "stream", "proxy", "cache_id", "UTF-8", "curl", "Python", "SDK", "TCP",
    ]

    /// Phrases the `repeat` scenario loops on (the model "stuck" on one phrase).
    static let loops: [[String]] = [
        ["我们", "再", "来看", "一下", "这个", "问题", "。"],
        [" Let", " me", " check", " that", " again", "."],
        ["好的", "，", "继续", "。"],
        [" The", " answer", " is", " the", " answer", "."],
    ]
}
