#include "gateway/writer.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <pthread.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>

#include "gateway/log.hpp"
#include "gateway/pq.hpp"
#include "gateway/sqlite.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;

writer::writer(store& s, metrics& m, std::size_t max_batch) : store_(s), metrics_(m), max_batch_(max_batch) {}

writer::~writer() { stop(); }

void writer::start() {
    std::lock_guard lock(mutex_);
    if (running_) {
        return;
    }
    running_ = true;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void writer::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!running_) {
            return;
        }
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard lock(mutex_);
    running_ = false;
}

void writer::submit(job j, completion done, then after) {
    {
        std::unique_lock lock(mutex_);
        if (!running_ || stopping_) {
            lock.unlock();
            done(write_status::unavailable);
            return;
        }
        queue_.push_back(item{std::move(j), std::move(done), after});
    }
    cv_.notify_one();
}

namespace {
// The initiation of write(): a named type, not a lambda temporary inside a co_await expression
// (g++ 12 can destroy such temporaries twice).
struct initiate_write {
    writer* self;

    template <class Handler>
    void operator()(Handler handler, writer::job j, writer::then after) const {
        // The handler is move-only; share it so the completion can be a std::function.
        auto h = std::make_shared<Handler>(std::move(handler));
        auto work = std::make_shared<asio::executor_work_guard<asio::associated_executor_t<Handler>>>(
            asio::get_associated_executor(*h));
        self->submit(
            std::move(j),
            [h, work](write_status status) {
                auto ex = work->get_executor();
                asio::post(ex, [h, work, status]() mutable { (*h)(status); });
            },
            after);
    }
};
}  // namespace

// Not a coroutine itself: the job travels as an argument into the awaitable's own frame.
asio::awaitable<write_status> writer::write(job j, then after) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(write_status)>(
        initiate_write{this}, asio::use_awaitable, std::move(j), after);
}

std::size_t writer::next_group(std::size_t waiting, std::size_t max_batch) {
    return std::min({waiting, max_batch, std::max(split_from, (waiting + 1) / 2)});
}

void writer::run() {
    // Named so that top -H, perf and the bench can tell the writer's CPU from the I/O threads'.
    pthread_setname_np(pthread_self(), "fg-writer");
    for (;;) {
        std::deque<item> batch;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) {
                return;
            }
            const std::size_t take = next_group(queue_.size(), max_batch_);
            while (batch.size() < take) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        commit_batch(batch);
        // A large group means jobs arrive faster than one commit takes: the writer is the
        // bottleneck, and its housekeeping should cost it as little as it can.
        const bool busy = batch.size() >= busy_group;
        try {
            const auto started = std::chrono::steady_clock::now();
            if (store_.between_groups(busy)) {
                metrics_.observe_housekeeping(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started));
            }
        } catch (const std::exception& e) {
            log::warn("writer", std::string("housekeeping between groups failed: ") + e.what());
        }
    }
}

bool writer::try_optimistic(std::deque<item>& batch) {
    if (!store_.optimistic_groups()) {
        return false;
    }
    try {
        auto tx = store_.begin_write();
        for (auto& i : batch) {
            i.work(*tx);
        }
        tx->commit();
        return true;
    } catch (const std::exception&) {
        // Rolled back with `tx`. Run with savepoints, the group meets the failure again and rolls
        // back only the job that fails, or fails whole on a resource error, and says so.
        return false;
    }
}

void writer::commit_batch(std::deque<item>& batch) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<write_status> statuses(batch.size(), write_status::committed);
    bool committed = false;
    if (try_optimistic(batch)) {
        finish_batch(batch, statuses, true, started);
        return;
    }
    // With several instances on one PostgreSQL: a job that would wait for a lock another instance
    // holds, after this transaction has taken locks of its own, goes back to the head of the queue
    // with every job after it (their order kept). It runs first in the next transaction, where it
    // may wait: two instances' transactions never wait for each other in a cycle.
    std::size_t deferred_from = batch.size();
    try {
        auto tx = store_.begin_write();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            tx->savepoint();
            try {
                batch[i].work(*tx);
                tx->release();
            } catch (const sqlite::error& e) {
                if (e.is_resource_error()) {
                    throw;  // the whole transaction is in doubt: fail the batch
                }
                log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                tx->rollback_to();
                statuses[i] = write_status::failed;
            } catch (const pq::error& e) {
                if (e.is_resource_error()) {
                    throw;  // the connection is gone: the whole transaction is in doubt
                }
                tx->rollback_to();
                if (e.is_lock_conflict() && i > 0) {
                    deferred_from = i;
                    break;
                }
                if (e.is_lock_conflict()) {
                    // Even the first job, which may wait, waited too long: another instance is stuck.
                    log::warn("writer", std::string("a write job waited too long for a lock: ") + e.what());
                    statuses[i] = write_status::unavailable;
                } else {
                    log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                    statuses[i] = write_status::failed;
                }
            } catch (const std::exception& e) {
                log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                tx->rollback_to();
                statuses[i] = write_status::failed;
            }
        }
        tx->commit();
        committed = true;
    } catch (const std::exception& e) {
        log::error("writer", std::string("commit failed; answering 503 so providers retry: ") + e.what());
    }
    if (deferred_from < batch.size()) {
        std::lock_guard lock(mutex_);
        for (std::size_t i = batch.size(); i-- > deferred_from;) {
            queue_.push_front(std::move(batch[i]));
        }
        batch.resize(deferred_from);
        statuses.resize(deferred_from);
    }
    finish_batch(batch, statuses, committed, started);
}

void writer::finish_batch(std::deque<item>& batch,
                          const std::vector<write_status>& statuses,
                          bool committed,
                          std::chrono::steady_clock::time_point started) {
    healthy_ = committed;
    if (committed) {
        metrics_.observe_commit(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started),
            batch.size());
    }
    if (committed &&
        std::any_of(batch.begin(), batch.end(), [](const item& i) { return i.after == then::checkpoint; })) {
        try {
            if (!store_.checkpoint()) {
                log::warn("writer", "could not checkpoint now (a reader holds the log); a later one will");
            }
        } catch (const std::exception& e) {
            log::warn("writer",
                      std::string("checkpoint failed; a later one will copy the pages: ") + e.what());
        }
    }
    const auto answered = std::chrono::steady_clock::now();
    std::vector<std::chrono::microseconds> waits;
    waits.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        waits.push_back(std::chrono::duration_cast<std::chrono::microseconds>(answered - batch[i].queued_at));
        batch[i].done(committed ? statuses[i] : write_status::unavailable);
    }
    metrics_.observe_job_waits(waits);
}

}  // namespace flowgate::gateway
