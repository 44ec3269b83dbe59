#include "gateway/sqlite_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "gateway/sqlite.hpp"
#include "tests/support/process.hpp"

namespace flowgate::gateway::sqlite {
namespace {

// The first column of the first row (the project's own connection and statement: URI options such
// as psow=0 work, SQLite being built with USE_URI).
std::string scalar(connection& db, const std::string& sql) {
    statement q(db, sql);
    return q.step() ? q.column_text(0) : "";
}

// Inserts `n` rows of `bytes` random bytes each.
std::string rows_of(int n, int bytes) {
    return "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < " + std::to_string(n) +
           ") INSERT INTO t (v) SELECT randomblob(" + std::to_string(bytes) + ") FROM k";
}

// The rows' count and total size, as a reader that shares nothing with the writer sees them.
std::string summary(connection& db) {
    return scalar(db, "SELECT count(*) || '/' || coalesce(sum(length(v)), 0) FROM t");
}

// What a crash leaves: the files as they are now, copied while the writer still has them open
// (nothing of it flushed or checkpointed on close). SQLite recovers the copy from its WAL, checking
// every frame's checksum, and keeps only committed transactions.
std::string summary_after_crash(const test::temp_dir& dir, const std::string& name) {
    namespace fs = std::filesystem;
    static int crashes = 0;
    const std::string copy = dir.file("crashed-" + std::to_string(++crashes) + ".db");
    fs::copy_file(dir.file(name), copy);
    if (fs::exists(dir.file(name + "-wal"))) {
        fs::copy_file(dir.file(name + "-wal"), copy + "-wal");
    }
    connection recovered(copy);
    const std::string out = summary(recovered);
    EXPECT_EQ(scalar(recovered, "PRAGMA integrity_check"), "ok");
    return out;
}

struct transaction_shape {
    const char* what;
    int rows;  // inserted, each a blob of `bytes`
    int bytes;
    int rewrites;     // then every row of the table updated this many times, in the same transaction
    int cache_pages;  // the writer's page cache: small, so pages spill into the WAL mid-transaction
};

// Each commit is in the file when the COMMIT returns, whatever its shape: one frame, many, more
// than SQLite's unix VFS writes at once (128 KiB), more than the VFS keeps before writing (4 MiB),
// frames written again within their transaction, and pages spilled to the WAL before the commit.
TEST(sqlite_vfs, every_commit_is_in_the_file_as_the_commit_returns) {
    const transaction_shape shapes[] = {
        {"one small row", 1, 10, 0, 2000},
        {"a hundred rows", 100, 200, 0, 2000},
        {"300 KiB: more than one write", 1, 300 * 1024, 0, 2000},
        {"6 MiB: more than the VFS holds", 3, 2 * 1024 * 1024, 0, 2000},
        {"rows rewritten in the same transaction", 50, 300, 20, 2000},
        {"rewrites with a 10-page cache (spills)", 400, 500, 5, 10},
        {"one small row after all that", 1, 10, 0, 2000},
    };
    for (const char* options : {"", "?psow=0"}) {
        SCOPED_TRACE(std::string("URI options: ") + options);
        test::temp_dir dir;
        connection writer("file:" + dir.file("w.db") + options, false, gathering_vfs());
        writer.exec("PRAGMA journal_mode = WAL");
        writer.exec("PRAGMA synchronous = FULL");
        writer.exec("PRAGMA wal_autocheckpoint = 0");  // the WAL keeps every frame: all read from it
        writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
        connection reader(dir.file("w.db"));
        std::int64_t rows = 0;
        std::int64_t bytes = 0;
        for (const auto& s : shapes) {
            SCOPED_TRACE(s.what);
            writer.exec("PRAGMA cache_size = " + std::to_string(s.cache_pages));
            writer.exec("BEGIN IMMEDIATE");
            writer.exec(rows_of(s.rows, s.bytes));
            rows += s.rows;
            bytes += std::int64_t{s.rows} * s.bytes;
            for (int i = 0; i < s.rewrites; ++i) {
                writer.exec("UPDATE t SET v = randomblob(length(v))");
            }
            writer.exec("COMMIT");
            const std::string expected = std::to_string(rows) + "/" + std::to_string(bytes);
            EXPECT_EQ(summary(reader), expected);
            EXPECT_EQ(summary_after_crash(dir, "w.db"), expected);
        }
        // And the other way round: what another connection commits, the writer reads.
        reader.exec("INSERT INTO t (v) VALUES (x'00')");
        EXPECT_EQ(summary(writer), std::to_string(rows + 1) + "/" + std::to_string(bytes + 1));
        writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        EXPECT_EQ(scalar(writer, "PRAGMA integrity_check"), "ok");
    }
}

// A rolled-back transaction's frames, even spilled ones, are never seen, and the next commit is.
TEST(sqlite_vfs, a_rolled_back_transaction_leaves_nothing) {
    test::temp_dir dir;
    connection writer(dir.file("r.db"), false, gathering_vfs());
    writer.exec("PRAGMA journal_mode = WAL");
    writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    writer.exec("PRAGMA cache_size = 10");
    writer.exec("BEGIN IMMEDIATE");
    writer.exec(rows_of(500, 1000));
    writer.exec("ROLLBACK");
    connection reader(dir.file("r.db"));
    EXPECT_EQ(summary(reader), "0/0");
    EXPECT_EQ(summary_after_crash(dir, "r.db"), "0/0");
    writer.exec("INSERT INTO t (v) VALUES (x'0102')");
    EXPECT_EQ(summary(reader), "1/2");
    EXPECT_EQ(summary_after_crash(dir, "r.db"), "1/2");
}

// The unix VFS's pwrite64, counted: the writes that reach the kernel.
int kernel_writes = 0;
ssize_t counting_pwrite64(int fd, const void* data, size_t n, off_t offset) {
    ++kernel_writes;
    return ::pwrite64(fd, data, n, offset);
}

struct wal_write {
    const char* what;
    sqlite3_int64 at;
    int bytes;
    int writes_so_far;  // the kernel's writes since the file was opened, after this one
};

// A WAL file of the VFS, driven directly: writes wait and go on in order, in as few system calls
// as the unix VFS allows (128 KiB each), and whatever reads, syncs, sizes or closes the file sees
// exactly what was written, in the order it was written.
TEST(sqlite_vfs, a_wal_gathers_writes_and_keeps_their_order) {
    test::temp_dir dir;
    dir.write("d.db", "");  // the unix VFS takes a WAL's permissions from its database
    (void)gathering_vfs();  // before SQLite's first use (sqlite3_create_filename initialises it)
    const std::string db_path = dir.file("d.db");
    const auto name = std::unique_ptr<const char, void (*)(sqlite3_filename)>(
        sqlite3_create_filename(
            db_path.c_str(), (db_path + "-journal").c_str(), (db_path + "-wal").c_str(), 0, nullptr),
        sqlite3_free_filename);
    sqlite3_vfs* vfs = sqlite3_vfs_find(gathering_vfs());
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    ASSERT_NE(vfs, nullptr);
    ASSERT_EQ(unix_vfs->xSetSystemCall(
                  unix_vfs, "pwrite64", reinterpret_cast<sqlite3_syscall_ptr>(counting_pwrite64)),
              SQLITE_OK);
    kernel_writes = 0;
    std::unique_ptr<sqlite3_file, void (*)(void*)> file(
        static_cast<sqlite3_file*>(std::calloc(1, vfs->szOsFile)), std::free);
    int out_flags = 0;
    ASSERT_EQ(vfs->xOpen(vfs,
                         sqlite3_filename_wal(name.get()),
                         file.get(),
                         SQLITE_OPEN_WAL | SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE,
                         &out_flags),
              SQLITE_OK);
    const sqlite3_io_methods& m = *file->pMethods;
    std::string model;  // what the file must hold
    char fill = 'a';
    const wal_write writes[] = {
        {"the header", 0, 32, 0},
        {"a frame's header", 32, 24, 0},
        {"its page", 56, 4096, 0},
        {"the next frame", 4152, 4120, 0},
        {"a frame of this transaction written again", 56, 4096, 0},
        {"across the end of what waits", 8000, 500, 1},
        {"then on from there", 8500, 4120, 1},
        {"before what waits", 10, 5, 2},
        {"300 KiB on from the end of the file", 12620, 300 * 1024, 3},
        // Past 4 MiB all that waits goes, in writes of just under 128 KiB: 5,550,080 bytes in 44.
        {"5 MiB on: more than the VFS keeps", 12620 + 300 * 1024, 5 << 20, 3 + 44},
    };
    for (const auto& w : writes) {
        SCOPED_TRACE(w.what);
        const std::string bytes(static_cast<std::size_t>(w.bytes), fill++);
        ASSERT_EQ(m.xWrite(file.get(), bytes.data(), w.bytes, w.at), SQLITE_OK);
        if (model.size() < static_cast<std::size_t>(w.at) + bytes.size()) {
            model.resize(static_cast<std::size_t>(w.at) + bytes.size());
        }
        model.replace(static_cast<std::size_t>(w.at), bytes.size(), bytes);
        EXPECT_EQ(kernel_writes, w.writes_so_far);
    }
    // A read sees every write before it, those still waiting too.
    const std::string frame(4120, fill++);
    ASSERT_EQ(m.xWrite(file.get(), frame.data(), 4120, static_cast<sqlite3_int64>(model.size())), SQLITE_OK);
    model += frame;
    std::string read(9000, '\0');
    ASSERT_EQ(m.xRead(file.get(), read.data(), 9000, static_cast<sqlite3_int64>(model.size() - 9000)),
              SQLITE_OK);
    EXPECT_TRUE(read == model.substr(model.size() - 9000)) << "the read differs from what was written";
    const int after_read = kernel_writes;
    // So does the size, and the sync writes what waits before it returns.
    const std::string tail(4120, fill++);
    ASSERT_EQ(m.xWrite(file.get(), tail.data(), 4120, static_cast<sqlite3_int64>(model.size())), SQLITE_OK);
    model += tail;
    EXPECT_EQ(kernel_writes, after_read);
    sqlite3_int64 size = 0;
    ASSERT_EQ(m.xFileSize(file.get(), &size), SQLITE_OK);
    EXPECT_EQ(size, static_cast<sqlite3_int64>(model.size()));
    EXPECT_EQ(kernel_writes, after_read + 1);
    const std::string last(100, fill++);
    ASSERT_EQ(m.xWrite(file.get(), last.data(), 100, static_cast<sqlite3_int64>(model.size())), SQLITE_OK);
    model += last;
    ASSERT_EQ(m.xSync(file.get(), SQLITE_SYNC_NORMAL), SQLITE_OK);
    EXPECT_EQ(kernel_writes, after_read + 2);
    std::ifstream in(db_path + "-wal", std::ios::binary);
    const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(on_disk == model) << "the file differs from what was written";
    ASSERT_EQ(m.xClose(file.get()), SQLITE_OK);
    unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", nullptr);
}

// Frames wait in the VFS only until the commit's sync: with any other setting they would be
// published before they are written, so the setting is refused.
// Looking the VFS up initialises SQLite, after which its memory statistics can no longer be
// turned off; the writer's connection looks it up before it opens, so gathering_vfs() sets the
// library up first. With statistics on, every allocation of SQLite's takes a global mutex.
// (Run as ctest runs it, in a process of its own: SQLite's first use decides.)
TEST(sqlite_vfs, sets_sqlite_up_before_it_initialises) {
    test::temp_dir dir;
    const char* vfs = gathering_vfs();
    connection writer(dir.file("m.db"), false, vfs);
    writer.exec("PRAGMA journal_mode = WAL");
    writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    writer.exec(rows_of(100, 1000));
    EXPECT_EQ(summary(writer), "100/100000");
    EXPECT_EQ(sqlite3_memory_used(), 0) << "SQLite keeps memory statistics: it was initialised first";
}

TEST(sqlite_vfs, refuses_any_synchronous_setting_but_full) {
    test::temp_dir dir;
    connection writer(dir.file("s.db"), false, gathering_vfs());
    writer.exec("PRAGMA journal_mode = WAL");
    for (const char* refused : {"OFF", "normal", "0", "1"}) {
        SCOPED_TRACE(refused);
        EXPECT_THROW(writer.exec(std::string("PRAGMA synchronous = ") + refused), std::runtime_error);
        EXPECT_EQ(scalar(writer, "PRAGMA synchronous"), "2");
    }
    for (const char* taken : {"FULL", "extra", "2", "3"}) {
        SCOPED_TRACE(taken);
        EXPECT_NO_THROW(writer.exec(std::string("PRAGMA synchronous = ") + taken));
    }
    EXPECT_EQ(scalar(writer, "PRAGMA synchronous"), "3");
    // SQLite's default VFS is untouched.
    connection plain(dir.file("s.db"));
    EXPECT_NO_THROW(plain.exec("PRAGMA synchronous = NORMAL"));
}

}  // namespace
}  // namespace flowgate::gateway::sqlite
