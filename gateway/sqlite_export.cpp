// The read side of `flowgate export messages` (store::export_messages) for SQLite.

#include "gateway/sqlite_store.hpp"

namespace flowgate::gateway {

void sqlite_store::export_messages(const std::function<void(const message_export_row&)>& row) {
    std::lock_guard lock(reader_mutex_);
    // One statement: one snapshot, read a row at a time. The text and URN columns are never read.
    sqlite::statement q(read_db(),
                        "SELECT m.uuid, m.direction, m.channel_id, coalesce(m.external_id, ''), m.state, "
                        "c.uuid, coalesce(r.uuid, ''), m.attempts, m.created_at, m.updated_at "
                        "FROM messages m JOIN contacts c ON c.id = m.contact_id "
                        "LEFT JOIN messages r ON r.id = m.reply_to ORDER BY m.id");
    message_export_row r;
    while (q.step()) {
        r.uuid = q.column_text(0);
        r.direction = q.column_text(1);
        r.channel_id = q.column_text(2);
        r.external_id = q.column_text(3);
        r.state = q.column_text(4);
        r.contact_uuid = q.column_text(5);
        r.reply_to = q.column_text(6);
        r.attempts = static_cast<int>(q.column_int64(7));
        r.created_at = from_millis(q.column_int64(8));
        r.updated_at = from_millis(q.column_int64(9));
        row(r);
    }
}

}  // namespace flowgate::gateway
