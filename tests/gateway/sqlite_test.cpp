#include "gateway/sqlite.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace flowgate::gateway::sqlite {
namespace {

// What a row holds, each column as text, "NULL" for a null.
std::string row(connection& db, std::int64_t id) {
    statement q(db, "SELECT coalesce(a, 'NULL'), coalesce(b, 'NULL'), coalesce(quote(c), 'NULL') FROM t WHERE id = ?1");
    q.bind(1, id);
    if (!q.step()) {
        return "missing";
    }
    return q.column_text(0) + "|" + q.column_text(1) + "|" + q.column_text(2);
}

struct use {
    std::optional<std::string> a;  // bound, or left unbound
    std::optional<std::int64_t> b;
    std::optional<std::string> c;  // a blob
    const char* stored;
};

// A statement used again keeps its bound values' buffers, but what is not bound in a use is NULL
// in that use, never the last use's value: as if every use began with sqlite3_clear_bindings.
TEST(sqlite_statement, a_parameter_not_bound_in_a_use_is_null) {
    test::temp_dir dir;
    connection db(dir.file("s.db"));
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c BLOB)");
    statement insert(db, "INSERT INTO t (id, a, b, c) VALUES (?1, ?2, ?3, ?4)");
    const std::vector<use> uses = {
        {"first", 1, "x", "first|1|X'78'"},
        {std::nullopt, 2, "yy", "NULL|2|X'7979'"},
        {"a text longer than the first one, into a buffer of its own", std::nullopt, std::nullopt,
         "a text longer than the first one, into a buffer of its own|NULL|NULL"},
        {"short", 3, "", "short|3|X''"},
        {std::nullopt, std::nullopt, std::nullopt, "NULL|NULL|NULL"},
        {"last", 4, "z", "last|4|X'7A'"},
    };
    std::int64_t id = 0;
    for (const auto& u : uses) {
        SCOPED_TRACE(u.stored);
        insert.bind(1, ++id);
        if (u.a) {
            insert.bind(2, *u.a);
        }
        if (u.b) {
            insert.bind(3, *u.b);
        }
        if (u.c) {
            insert.bind_blob(4, *u.c);
        }
        insert.run();
        EXPECT_EQ(row(db, id), u.stored);
    }
}

// A use that fails (here a constraint) leaves the statement reset: the next use binds afresh.
TEST(sqlite_statement, a_failed_use_leaves_the_next_one_clean) {
    test::temp_dir dir;
    connection db(dir.file("s.db"));
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b INTEGER, c BLOB)");
    statement insert(db, "INSERT INTO t (id, a, b, c) VALUES (?1, ?2, ?3, ?4)");
    insert.bind(1, 1).bind(2, "one").bind(3, 1).bind_blob(4, "1");
    insert.run();
    insert.bind(1, 1).bind(2, "again").bind(3, 2);
    EXPECT_THROW(insert.run(), error);  // the id is taken
    insert.bind(1, 2).bind(2, "two");
    insert.run();
    EXPECT_EQ(row(db, 2), "two|NULL|NULL");
}

}  // namespace
}  // namespace flowgate::gateway::sqlite
