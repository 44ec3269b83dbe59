// The read side of flow results (store::list_flow_runs) for SQLite.

#include "gateway/sqlite_store.hpp"

namespace flowgate::gateway {

std::vector<flow_run_row> sqlite_store::list_flow_runs(const std::string& flow_id, bool identified) {
    std::lock_guard lock(reader_mutex_);
    // One statement, so the runs and their results are one snapshot. A run without results has one
    // row with NULL result columns. The contact's name and URN are read only when asked for (CASE
    // does not evaluate the branch it does not take).
    sqlite::statement q(read_db(),
                        "SELECT r.id, c.uuid, r.status, r.created_at, r.exited_at, "
                        "CASE WHEN ?2 THEN c.name ELSE '' END, "
                        "CASE WHEN ?2 THEN (SELECT u.urn FROM contact_urns u "
                        "WHERE u.contact_id = c.id ORDER BY u.id LIMIT 1) END, "
                        "s.key, s.name, s.value, s.category, s.input, s.node_id, s.created_at "
                        "FROM runs r JOIN contacts c ON c.id = r.contact_id "
                        "LEFT JOIN results s ON s.run_id = r.id "
                        "WHERE r.flow_id = ?1 ORDER BY r.id");
    q.bind(1, flow_id).bind(2, identified ? 1 : 0);
    std::vector<flow_run_row> out;
    while (q.step()) {
        const std::int64_t run_id = q.column_int64(0);
        if (out.empty() || out.back().id != run_id) {
            flow_run_row row;
            row.id = run_id;
            row.contact_uuid = q.column_text(1);
            row.status = q.column_text(2);
            row.started_at = from_millis(q.column_int64(3));
            if (!q.column_is_null(4)) {
                row.exited_at = from_millis(q.column_int64(4));
            }
            row.contact_name = q.column_text(5);
            if (!q.column_is_null(6)) {
                row.urn = key_.open(q.column_blob(6), sealed_column::contact_urn);
            }
            out.push_back(std::move(row));
        }
        if (q.column_is_null(7)) {
            continue;
        }
        flows::result_value v;
        v.name = q.column_text(8);
        v.value = key_.open(q.column_blob(9), sealed_column::result_value);
        v.category = q.column_text(10);
        v.input = key_.open(q.column_blob(11), sealed_column::result_input);
        v.node_id = q.column_text(12);
        v.created_at = from_millis(q.column_int64(13));
        out.back().values.emplace(q.column_text(7), std::move(v));
    }
    return out;
}

}  // namespace flowgate::gateway
