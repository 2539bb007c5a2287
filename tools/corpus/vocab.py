"""Word pools for the synthetic Moonshot traffic generator.

Each pool is split into two disjoint halves: the "train" half feeds the dictionary's training set, the "test" half
the benchmark corpus, so the dictionary can only learn structure (JSON keys, headers, SSE boilerplate), not text.
"""

ENGLISH = """
ability able about above accept according account across action activity actually add address administration
admit adult affect after again against agency agent agree agreement ahead allow almost alone along already also
although always among amount analysis animal another answer anyone anything appear apply approach area argue arm
around arrive article artist assume attack attention attorney audience author authority available avoid away baby
back bad bag ball bank bar base beat beautiful because become bed before begin behavior behind believe benefit best
better between beyond big bill billion bit black blood blue board body book born both box boy break bring brother
budget build building business buy call camera campaign cancer candidate capital car card care career carry case
catch cause cell center central century certain certainly chair challenge chance change character charge check
child choice choose church citizen city civil claim class clear clearly close coach cold collection college color
come commercial common community company compare computer concern condition conference congress consider consumer
contain continue control cost could country couple course court cover create crime cultural culture cup current
customer cut dark data daughter dead deal death debate decade decide decision deep defense degree democrat describe
design despite detail determine develop development difference different difficult dinner direction director
discover discuss discussion disease doctor dog door down draw dream drive drop drug during each early east easy eat
economic economy edge education effect effort eight either election else employee energy enjoy enough enter entire
environment environmental especially establish even evening event ever every everybody everyone everything evidence
exactly example executive exist expect experience expert explain eye face fact factor fail fall family far fast
father fear federal feel feeling few field fight figure fill film final finally financial find fine finger finish
fire firm first fish five floor fly focus follow food foot force foreign forget form former forward four free friend
front full fund future game garden gas general generation girl give glass goal good government great green ground
group grow growth guess gun guy hair half hand hang happen happy hard have head health hear heart heat heavy help
here herself high himself history hit hold home hope hospital hot hotel hour house however huge human hundred husband
idea identify image imagine impact important improve include including increase indeed indicate individual industry
information inside instead institution interest interesting international interview into investment involve issue
item itself job join just keep key kid kill kind kitchen know knowledge land language large last late later laugh
law lawyer lay lead leader learn least leave left leg legal less letter level lie life light like likely line list
listen little live local long look lose loss lot love low machine magazine main maintain major majority make manage
management manager many market marriage material matter maybe mean measure media medical meet meeting member memory
mention message method middle might military million mind minute miss mission model modern moment money month more
morning most mother mouth move movement movie much music must myself name nation national natural nature near nearly
necessary need network never news newspaper next nice night none nor north note nothing notice number occur offer
office officer official often oil old once only onto open operation opportunity option order organization other
others outside over own owner page pain painting paper parent part participant particular particularly partner party
pass past patient pattern pay peace people perform performance perhaps period person personal phone physical pick
picture piece place plan plant play player point police policy political politics poor popular population position
positive possible power practice prepare present president pressure pretty prevent price private probably problem
process produce product production professional professor program project property protect prove provide public pull
purpose push quality question quickly quite race radio raise range rate rather reach read ready real reality realize
really reason receive recent recently recognize record red reduce reflect region relate relationship religious remain
remember remove report represent republican require research resource respond response responsibility rest result
return reveal rich right rise risk road rock role room rule run safe same save say scene school science scientist
score sea season seat second section security seek seem sell send senior sense series serious serve service set
seven several shake share shoot short shot should shoulder show side sign significant similar simple simply since
sing single sister sit site situation six size skill skin small smile social society soldier some somebody someone
something sometimes son song soon sort sound source south southern space speak special specific speech spend sport
spring staff stage stand standard star start state statement station stay step still stock stop store story strategy
street strong structure student study stuff style subject success successful such suddenly suffer suggest summer
support sure surface system table take talk task tax teach teacher team technology television tell ten tend term test
than thank that their them themselves then theory there these they thing think third this those though thought
thousand threat three through throughout throw thus time today together tonight total tough toward town trade
traditional training travel treat treatment tree trial trip trouble true truth try turn type under understand unit
until upon usually value various very victim view violence visit voice vote wait walk wall want war watch water way
weapon wear week weight well west western what whatever when where whether which while white whole whom whose why
wide wife will win wind window wish with within without woman wonder word work worker world worry would write writer
wrong yard yeah year yes yet young yourself
""".split()

CHINESE = """
我们 你们 他们 今天 明天 昨天 时间 问题 方法 系统 模型 数据 用户 请求 响应 接口 文档 参数 结果 错误
服务 网络 计算 分析 设计 开发 测试 部署 配置 环境 代码 函数 变量 对象 数组 字符 文本 图片 文件 目录
学习 研究 理解 解释 总结 翻译 回答 提问 建议 帮助 需要 可以 应该 已经 正在 如果 因为 所以 但是 而且
虽然 然后 最后 首先 其次 另外 例如 比如 通过 根据 关于 对于 以及 或者 还是 只是 就是 这个 那个 什么
怎么 为什么 哪里 多少 一些 所有 每个 其他 自己 大家 公司 产品 市场 经济 社会 文化 历史 科学 技术 教育
城市 国家 世界 生活 工作 家庭 朋友 老师 学生 医生 孩子 父母 身体 健康 天气 季节 春天 夏天 秋天 冬天
早上 中午 晚上 周末 假期 旅行 火车 飞机 汽车 道路 山水 河流 大海 森林 花园 动物 植物 食物 水果 蔬菜
音乐 电影 小说 故事 诗歌 艺术 体育 比赛 游戏 运动 新闻 信息 消息 通知 会议 计划 目标 任务 项目 进度
质量 效率 成本 价格 价值 能力 经验 知识 技能 思想 观点 意见 态度 情况 条件 原因 影响 变化 发展 趋势
重要 简单 复杂 容易 困难 快速 缓慢 安全 稳定 准确 清楚 完整 详细 具体 基本 主要 特别 非常 比较 相当
长文本 上下文 缓存 令牌 流式 输出 推理 思考 工具 调用 搜索 网页 月之暗面 智能 助手 对话 消息体 温度 采样
""".split()

SYSTEM_PROMPTS_TRAIN = [
    "你是 Kimi，由 Moonshot AI 提供的人工智能助手，你更擅长中文和英文的对话。你会为用户提供安全，有帮助，准确的回答。",
    "You are a helpful assistant. Answer concisely and cite the documentation when you can.",
    "你是一个专业的翻译助手，请把用户输入的内容翻译成地道的英文，保持原文的语气。",
    "You are a code reviewer. Point out bugs first, then style issues, and keep each remark short.",
]
SYSTEM_PROMPTS_TEST = [
    "你是 Kimi，由 Moonshot AI 提供的人工智能助手。同时，你会拒绝一切涉及恐怖主义，种族歧视，黄色暴力等问题的回答。",
    "You are a customer support agent for an online bookstore. Be polite and ask for the order number.",
    "请扮演一位耐心的数学老师，用循序渐进的方式解释概念，并在最后给出一道练习题。",
]

def halves(words):
    """Splits a pool into two disjoint halves (even / odd positions)."""
    return words[0::2], words[1::2]
