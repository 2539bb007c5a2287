import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the request's connection, which the `/_mock/hold` debug route watches for the
/// client closing it (the only way a server learns that a caller gave up on a request it has not answered).
struct MockRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
