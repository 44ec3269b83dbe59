#pragma once
// Tests that read the database file directly: reveal(value) in SQL opens a value sealed under the
// given key (by default the throwaway one: the tests' "data_key": "none"); any other value comes
// back as it is.

#include <sqlite3.h>

#include <string>

#include "gateway/data_key.hpp"
#include "gateway/sqlite.hpp"
#include "gateway/sqlite_store.hpp"

namespace flowgate::test {

inline void reveal_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    const std::string sealed(static_cast<const char*>(sqlite3_value_blob(argv[0])),
                             static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
    const auto& key = *static_cast<const gateway::data_key*>(sqlite3_user_data(ctx));
    namespace col = gateway::sealed_column;
    for (const auto context : {col::contact_urn,
                               col::message_urn,
                               col::message_text,
                               col::result_value,
                               col::result_input,
                               col::session_state,
                               col::webhook_request}) {
        try {
            const auto plain = key.open(sealed, context);
            sqlite3_result_text(ctx, plain.data(), static_cast<int>(plain.size()), SQLITE_TRANSIENT);
            return;
        } catch (const gateway::data_key_error&) {
        }
    }
    sqlite3_result_error(ctx, "reveal: not sealed under this key", -1);
}

inline void add_reveal(gateway::sqlite::connection& db,
                       const gateway::data_key& key = gateway::data_key::throwaway()) {
    sqlite3_create_function_v2(db.handle(),
                               "reveal",
                               1,
                               SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                               new gateway::data_key(key),
                               &reveal_function,
                               nullptr,
                               nullptr,
                               [](void* p) { delete static_cast<gateway::data_key*>(p); });
}

}  // namespace flowgate::test
