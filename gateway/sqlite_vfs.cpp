#include "gateway/sqlite_vfs.hpp"

#include "gateway/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace flowgate::gateway::sqlite {

namespace {

// A file of the gathering VFS: SQLite's own (the default VFS's) right behind it, in the same
// allocation. For a WAL, the frames SQLite writes one after another wait in `pending` and go to
// the file in one write (or a few: see flush) when SQLite syncs it, reads it, asks its size,
// truncates or closes it, or raises its database's barrier.
//
// Why: SQLite writes each WAL frame as two pwrite calls, its 24-byte header and its page, and
// the writer's commit carries about 120 frames; at full load that was 9.4 write system calls a
// webhook and about 15% of the writer's CPU. Nothing is lost by waiting: a frame counts only
// once the WAL index says so, which SQLite writes after the commit's sync (synchronous=FULL, which
// the database insists on), and before then the transaction is not committed, so a crash that
// loses what waits here loses nothing that was acknowledged.
struct gathering_file {
    sqlite3_file base;  // first: SQLite sees this
    sqlite3_file* real = nullptr;
    std::vector<char> pending;         // a WAL's unwritten bytes (always empty for other files)
    sqlite3_int64 pending_at = 0;      // where they go in the file
    gathering_file* wal_of = nullptr;  // a database's open WAL, if any (for its barrier)
    gathering_file* main = nullptr;    // a WAL's database
    const char* name = nullptr;        // a database's name, while it is open
};

// Where SQLite's own file starts in the allocation, aligned for anything it holds.
constexpr std::size_t real_file_offset = (sizeof(gathering_file) + 15) & ~std::size_t{15};

// What waits is written once it reaches this much (a group's commit is 100 to 500 KiB).
constexpr std::size_t max_pending = 4 << 20;

sqlite3_vfs* real_vfs = nullptr;

// Open databases by the name SQLite gave xOpen. That name is the connection's own: SQLite keeps a
// database's name and its WAL's in one allocation, and sqlite3_filename_database() of the WAL's
// name gives back the very pointer the database was opened with. So a WAL finds its own
// connection's database, never another connection's on the same file.
std::mutex open_mutex;
std::map<const char*, gathering_file*>& open_databases() {
    static std::map<const char*, gathering_file*> m;
    return m;
}

gathering_file* self(sqlite3_file* f) { return reinterpret_cast<gathering_file*>(f); }

int flush(gathering_file* f) {
    if (f == nullptr || f->pending.empty()) {
        return SQLITE_OK;
    }
    // SQLite's unix VFS writes at most 128 KiB in one call (it masks larger sizes), so larger
    // runs go in pieces of just under that.
    constexpr std::size_t piece = 0x1ffff & ~std::size_t{4095};
    const auto& p = f->pending;
    int rc = SQLITE_OK;
    for (std::size_t at = 0; at < p.size() && rc == SQLITE_OK; at += piece) {
        const auto n = std::min(piece, p.size() - at);
        rc = f->real->pMethods->xWrite(
            f->real, p.data() + at, static_cast<int>(n), f->pending_at + static_cast<sqlite3_int64>(at));
    }
    f->pending.clear();
    return rc;
}

// --- the WAL's methods: gather writes, send them on before anything else ---

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
    auto* f = self(file);
    auto& p = f->pending;
    const auto n = static_cast<std::size_t>(amount);
    const sqlite3_int64 end = f->pending_at + static_cast<sqlite3_int64>(p.size());
    if (!p.empty() && offset >= f->pending_at && offset + amount <= end) {
        // A frame of this transaction written again (its checksum chain recomputed).
        std::memcpy(p.data() + (offset - f->pending_at), data, n);
        return SQLITE_OK;
    }
    if (!p.empty() && offset != end) {
        if (const int rc = flush(f); rc != SQLITE_OK) {
            return rc;
        }
    }
    if (p.empty()) {
        f->pending_at = offset;
    }
    const auto* bytes = static_cast<const char*>(data);
    try {
        p.insert(p.end(), bytes, bytes + n);
    } catch (const std::bad_alloc&) {
        // No memory to wait in (nothing may be thrown through SQLite): written at once instead.
        if (const int rc = flush(f); rc != SQLITE_OK) {
            return rc;
        }
        return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    return p.size() >= max_pending ? flush(f) : SQLITE_OK;
}

// Whatever else SQLite asks of the WAL, it asks after what waits is written.
template <class Call>
int after_flush(sqlite3_file* file, Call call) {
    auto* f = self(file);
    if (const int rc = flush(f); rc != SQLITE_OK) {
        return rc;
    }
    return call(f->real);
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
    return after_flush(file,
                       [&](sqlite3_file* real) { return real->pMethods->xRead(real, out, amount, offset); });
}

int wal_sync(sqlite3_file* file, int flags) {
    return after_flush(file, [&](sqlite3_file* real) { return real->pMethods->xSync(real, flags); });
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
    return after_flush(file, [&](sqlite3_file* real) { return real->pMethods->xTruncate(real, size); });
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
    return after_flush(file, [&](sqlite3_file* real) { return real->pMethods->xFileSize(real, size); });
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
    return after_flush(file, [&](sqlite3_file* real) { return real->pMethods->xFileControl(real, op, arg); });
}

// --- both kinds: closing, and what is only passed on ---

int any_close(sqlite3_file* file) {
    auto* f = self(file);
    int rc = flush(f);
    {
        std::lock_guard lock(open_mutex);
        if (f->main != nullptr && f->main->wal_of == f) {
            f->main->wal_of = nullptr;
        }
        if (f->wal_of != nullptr) {
            f->wal_of->main = nullptr;
        }
        if (f->name != nullptr) {
            auto& open = open_databases();
            if (const auto it = open.find(f->name); it != open.end() && it->second == f) {
                open.erase(it);
            }
        }
    }
    const int closed = f->real->pMethods->xClose(f->real);
    f->~gathering_file();
    return rc != SQLITE_OK ? rc : closed;
}

int pass_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
    return self(f)->real->pMethods->xRead(self(f)->real, out, amount, offset);
}
int pass_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
    return self(f)->real->pMethods->xWrite(self(f)->real, data, amount, offset);
}
int pass_truncate(sqlite3_file* f, sqlite3_int64 size) {
    return self(f)->real->pMethods->xTruncate(self(f)->real, size);
}
int pass_sync(sqlite3_file* f, int flags) { return self(f)->real->pMethods->xSync(self(f)->real, flags); }
int pass_file_size(sqlite3_file* f, sqlite3_int64* size) {
    return self(f)->real->pMethods->xFileSize(self(f)->real, size);
}
int pass_lock(sqlite3_file* f, int level) { return self(f)->real->pMethods->xLock(self(f)->real, level); }
int pass_unlock(sqlite3_file* f, int level) { return self(f)->real->pMethods->xUnlock(self(f)->real, level); }
int pass_check_reserved_lock(sqlite3_file* f, int* out) {
    return self(f)->real->pMethods->xCheckReservedLock(self(f)->real, out);
}
// A WAL's frames may wait here only because each commit syncs the WAL, which writes them first:
// the database refuses any other synchronous setting.
int main_file_control(sqlite3_file* f, int op, void* arg) {
    if (op == SQLITE_FCNTL_PRAGMA) {
        auto** words = static_cast<char**>(arg);  // [error out, name, value or null]
        if (words[2] != nullptr && sqlite3_stricmp(words[1], "synchronous") == 0 &&
            sqlite3_stricmp(words[2], "full") != 0 && sqlite3_stricmp(words[2], "extra") != 0 &&
            std::strcmp(words[2], "2") != 0 && std::strcmp(words[2], "3") != 0) {
            words[0] =
                sqlite3_mprintf("%s", "this connection's VFS (flowgate-gathering) needs synchronous=FULL");
            return SQLITE_ERROR;
        }
    }
    return self(f)->real->pMethods->xFileControl(self(f)->real, op, arg);
}
int pass_sector_size(sqlite3_file* f) { return self(f)->real->pMethods->xSectorSize(self(f)->real); }
int pass_device_characteristics(sqlite3_file* f) {
    return self(f)->real->pMethods->xDeviceCharacteristics(self(f)->real);
}
int pass_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return self(f)->real->pMethods->xShmMap(self(f)->real, region, size, extend, out);
}
int pass_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return self(f)->real->pMethods->xShmLock(self(f)->real, offset, n, flags);
}
// The database's barrier orders the WAL index's writes: SQLite raises it between the two copies
// of the index's header that make new frames visible to other connections. The frames must be in
// the file by then, those written after the commit's sync too (the padding to a sector boundary
// when the file system is not power-safe, psow=0).
void main_shm_barrier(sqlite3_file* f) {
    flush(self(f)->wal_of);
    self(f)->real->pMethods->xShmBarrier(self(f)->real);
}
int pass_shm_unmap(sqlite3_file* f, int delete_flag) {
    return self(f)->real->pMethods->xShmUnmap(self(f)->real, delete_flag);
}
int pass_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
    return self(f)->real->pMethods->xFetch(self(f)->real, offset, amount, out);
}
int pass_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
    return self(f)->real->pMethods->xUnfetch(self(f)->real, offset, page);
}

const sqlite3_io_methods wal_methods = {
    1,
    any_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    pass_lock,
    pass_unlock,
    pass_check_reserved_lock,
    wal_file_control,
    pass_sector_size,
    pass_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

// The other files keep the version of their real methods (a database has the WAL index, 2, and
// memory mapping, 3); one table per version.
template <int Version>
const sqlite3_io_methods passing_methods = {
    Version,
    any_close,
    pass_read,
    pass_write,
    pass_truncate,
    pass_sync,
    pass_file_size,
    pass_lock,
    pass_unlock,
    pass_check_reserved_lock,
    main_file_control,
    pass_sector_size,
    pass_device_characteristics,
    Version >= 2 ? pass_shm_map : nullptr,
    Version >= 2 ? pass_shm_lock : nullptr,
    Version >= 2 ? main_shm_barrier : nullptr,
    Version >= 2 ? pass_shm_unmap : nullptr,
    Version >= 3 ? pass_fetch : nullptr,
    Version >= 3 ? pass_unfetch : nullptr,
};

int gathering_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    (void)vfs;
    auto* f = new (file) gathering_file;
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + real_file_offset);
    f->base.pMethods = nullptr;  // until the real file is open: SQLite then calls no xClose
    const int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == nullptr) {
        f->~gathering_file();
        return rc;
    }
    const int version = f->real->pMethods->iVersion;
    try {
        if ((flags & SQLITE_OPEN_WAL) != 0 && name != nullptr) {
            f->pending.reserve(1 << 20);
            std::lock_guard lock(open_mutex);
            if (const auto it = open_databases().find(sqlite3_filename_database(name));
                it != open_databases().end()) {
                f->main = it->second;
                it->second->wal_of = f;
            }
            f->base.pMethods = &wal_methods;
            return SQLITE_OK;
        }
        if ((flags & SQLITE_OPEN_MAIN_DB) != 0 && name != nullptr) {
            std::lock_guard lock(open_mutex);
            open_databases()[name] = f;
            f->name = name;
        }
    } catch (const std::bad_alloc&) {
        f->real->pMethods->xClose(f->real);
        f->~gathering_file();
        return SQLITE_NOMEM;
    }
    f->base.pMethods = version >= 3   ? &passing_methods<3>
                       : version == 2 ? &passing_methods<2>
                                      : &passing_methods<1>;
    return SQLITE_OK;
}

}  // namespace

const char* gathering_vfs() {
    static const char* const name = [] {
        configure_library();  // before sqlite3_vfs_find, which initialises SQLite
        real_vfs = sqlite3_vfs_find(nullptr);
        static sqlite3_vfs vfs = *real_vfs;
        vfs.zName = "flowgate-gathering";
        vfs.szOsFile = static_cast<int>(real_file_offset) + real_vfs->szOsFile;
        vfs.xOpen = gathering_open;
        vfs.pNext = nullptr;
        sqlite3_vfs_register(&vfs, 0);
        return vfs.zName;
    }();
    return name;
}

}  // namespace flowgate::gateway::sqlite
