#pragma once
// The writer's VFS: SQLite's default one, except that a WAL's frames are gathered and written to
// the file in a few large writes when SQLite syncs it (a commit), instead of two writes a frame.
// Only for connections that keep synchronous=FULL: it refuses any other setting.

namespace flowgate::gateway::sqlite {

// Registers the VFS (once) and returns its name, for sqlite3_open_v2.
const char* gathering_vfs();

}  // namespace flowgate::gateway::sqlite
