#include "gateway/open_store.hpp"

#include <filesystem>

#include "gateway/postgres_store.hpp"
#include "gateway/sqlite_store.hpp"

namespace flowgate::gateway {

std::unique_ptr<store> open_store(const config::store_config& cfg, const data_key& key) {
    if (!cfg.postgres.empty()) {
        return std::make_unique<postgres_store>(cfg.postgres, key, cfg.writers);
    }
    const std::filesystem::path path(cfg.sqlite);
    if (cfg.sqlite != ":memory:" && path.has_parent_path()) {
        std::filesystem::create_directories(path.parent_path());
    }
    return std::make_unique<sqlite_store>(cfg.sqlite, key);
}

}  // namespace flowgate::gateway
