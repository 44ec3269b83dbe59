#pragma once
// The store a config names: SQLite (a file, created with its folder) or PostgreSQL.

#include <memory>

#include "config/config.hpp"
#include "gateway/data_key.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway {

// Opens and migrates the store. Throws on a store that cannot be opened (the message names the
// SQLite path, never a PostgreSQL URL).
std::unique_ptr<store> open_store(const config::store_config& cfg, const data_key& key);

}  // namespace flowgate::gateway
