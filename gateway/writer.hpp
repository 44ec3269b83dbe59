#pragma once
// The single writer: one thread owns the store's write side and commits many concurrent jobs in
// one transaction (group commit), and one failing job rolls back alone: each runs inside its own
// savepoint, or (store::optimistic_groups) the group first runs without them and, if a job
// fails, the transaction is rolled back and the group runs again with them. (Not when the COMMIT
// itself lost its connection to PostgreSQL: it may have been done, so the group is answered
// unavailable, as with savepoints.) A job's completion runs only after the commit is durable —
// which is what lets a webhook answer 2xx.
//
// So a job may run more than once (so may one deferred behind another instance's lock): it must
// set, not add to, whatever it reports to its caller, and touch nothing outside the transaction.
//
// A store may take several writers at once (store::write_lanes: PostgreSQL, whose single writer
// spends most of its time waiting for the server). Each lane is a writer of its own, with its own
// thread, queue and transactions, as another instance's would be. A job goes to the lane its key
// picks: the jobs of one contact (its messages, keyed by number) to one lane, in the order
// submitted; the rest, unkeyed, to lane 0.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/metrics.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway {

enum class write_status {
    committed,
    failed,       // this job threw; it was rolled back alone
    unavailable,  // the commit failed (disk full, I/O error) or the writer is stopped: retry later
};

class writer {
   public:
    using job = std::function<void(write_tx&)>;
    using completion = std::function<void(write_status)>;

    writer(store& s, metrics& m, std::size_t max_batch = 256);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void start();
    // Commits what is queued, then stops the thread. Later submissions complete as unavailable.
    void stop();

    // What the writer does after committing a job, before its completion runs.
    enum class then {
        nothing,
        // Checkpoint the store (store::checkpoint): the bytes the job overwrote or deleted leave the
        // log too — an erasure, a retention purge. Done between transactions, on the writer's thread.
        checkpoint,
    };

    // `key`: the lane is key % lanes (lane 0 for 0).
    void submit(job j, completion done, then after = then::nothing, std::size_t key = 0);

    // How many of the `waiting` jobs the next group takes: all of a few, half of many (at least
    // split_from), never more than max_batch. Taking all that waited split a steady load into two
    // cohorts that took turns: the I/O threads answered one group and read the next requests while
    // the writer committed the other, and each side then waited for the other (the bench's full
    // load left the machine 69% busy). Half of a long queue leaves the next group waiting when a
    // commit ends, so the writer and the I/O threads work at the same time (78% busy); a long
    // backlog still commits in large groups, and half load's small ones are whole as before.
    static std::size_t next_group(std::size_t waiting, std::size_t max_batch);
    static constexpr std::size_t split_from = 24;

    // False from a failed commit (disk full, I/O error) until the next one succeeds, in any lane
    // (they share the store; a quiet lane's last failure must not outlast the store's recovery):
    // /healthz reports it. Safe from any thread.
    bool healthy() const { return healthy_.load(); }

    // Submits and waits, without blocking the calling I/O thread.
    boost::asio::awaitable<write_status> write(job j, then after = then::nothing, std::size_t key = 0);
    // Submits each (key, job) at once, in order, and waits for them all: unavailable if any was,
    // else failed if any failed, else committed. They commit apart: a caller whose jobs may each
    // run alone (a webhook's events, split by contact) answers so that the provider retries.
    boost::asio::awaitable<write_status> write_all(std::vector<std::pair<std::size_t, job>> jobs);

    std::size_t lanes() const { return lanes_.size(); }
    // The key of a contact's jobs, from any URN of theirs: one number by SMS and on WhatsApp is one
    // key (as it is one contact).
    static std::size_t key_of(std::string_view urn);
    // key_of(urn) when there are lanes to choose from, else 0 (no work on SQLite's hot paths).
    std::size_t key_for(std::string_view urn) const;

   private:
    struct item {
        job work;
        completion done;
        then after = then::nothing;
        std::chrono::steady_clock::time_point queued_at = std::chrono::steady_clock::now();
    };
    struct lane {
        std::size_t index = 0;
        std::mutex mutex;
        std::condition_variable cv;
        std::deque<item> queue;
        bool stopping = false;
        bool running = false;
        std::thread thread;
    };
    void run(lane& l);
    void commit_batch(lane& l, std::deque<item>& batch);
    enum class attempt {
        committed,
        with_savepoints,  // rolled back (a job failed, or the store does not allow it): run it with them
        in_doubt,         // the COMMIT met a resource error (a lost connection): it may have committed
    };
    // The group in one transaction without savepoints.
    attempt try_optimistic(lane& l, std::deque<item>& batch);
    void finish_batch(std::deque<item>& batch,
                      const std::vector<write_status>& statuses,
                      bool committed,
                      std::chrono::steady_clock::time_point started);

    // A group this large tells store::between_groups that the writer is busy (the bench's full
    // load commits about 30 jobs a group; half of it, 1 to 10).
    static constexpr std::size_t busy_group = 16;

    store& store_;
    metrics& metrics_;
    std::size_t max_batch_;
    std::vector<std::unique_ptr<lane>> lanes_;
    std::atomic<bool> healthy_{true};
};

}  // namespace flowgate::gateway
