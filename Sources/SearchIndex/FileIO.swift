import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable file operations (write + fsync, rename, directory fsync) with errors naming the path.
enum FileIO {
    static func ioError(_ action: String, _ path: String, errno code: Int32 = errno) -> SearchError {
        SearchError(
            code: .io,
            message: "cannot \(action) \(path): \(String(cString: strerror(code))); check that the path exists, is writable and the disk is not full",
            file: path)
    }

    /// The file's bytes, or nil when it does not exist.
    static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ioError("open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ioError("read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }

    /// Creates (or truncates) `path`, writes `bytes` and fsyncs the file.
    static func writeDurably(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("create", path) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ioError("write", path)
            }
            written += count
        }
        guard fsync(fd) == 0 else { throw ioError("fsync", path) }
    }

    static func renameFile(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else { throw ioError("rename \(from) to", to) }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("open directory", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("fsync directory", path) }
    }

    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SearchError(
                code: .io,
                message: "cannot create index directory \(path): \(error.localizedDescription); check the index path and its permissions",
                file: path)
        }
    }

    static func list(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw SearchError(
                code: .io, message: "cannot list index directory \(path): \(error.localizedDescription)", file: path)
        }
    }

    /// Removes a file; a file that is already gone is fine.
    static func remove(_ path: String) {
        unlink(path)
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// An exclusive, process-wide advisory lock (flock) on a file, held until `unlock` or deinit.
final class DirectoryLock {
    private var fd: Int32

    /// Takes the lock or throws `locked` naming the directory and the holder's pid.
    init(path: String, directory: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.ioError("open lock file", path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = (try? FileIO.readFile(path)).flatMap { $0 }.flatMap { String(decoding: $0, as: UTF8.self) } ?? ""
            close(fd)
            fd = -1
            if code == EWOULDBLOCK {
                let who = holder.isEmpty ? "another process" : "process \(holder.trimmingCharacters(in: .whitespacesAndNewlines))"
                throw SearchError(
                    code: .locked,
                    message: "index directory \(directory) is already open for writing by \(who); only one writer may use an index directory: stop the other distributary process or give this one a different index path (readers such as `distributary search` need no lock)",
                    file: path)
            }
            throw FileIO.ioError("lock", path, errno: code)
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }
}
