import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Test cases that make non-blocking socket pairs, closed after each test.
class SocketPairTestCase: XCTestCase {
    var fds: [Int32] = []

    func pair() -> (Int32, Int32) {
        var sv: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &sv), 0)
        fds += sv
        return (sv[0], sv[1])
    }

    override func tearDown() {
        for fd in fds { close(fd) }
        fds = []
        super.tearDown()
    }

    func send(_ fd: Int32, _ s: String) {
        XCTAssertEqual(s.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, s.utf8.count) }, s.utf8.count)
    }
}
