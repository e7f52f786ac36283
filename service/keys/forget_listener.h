#ifndef IDEM_SERVICE_KEYS_FORGET_LISTENER_H_
#define IDEM_SERVICE_KEYS_FORGET_LISTENER_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/keys/finished_call_cache.h"
#include "service/keys/key_store.h"

namespace idem::keys {

// The application_name of the listener's session, by which pg_stat_activity
// shows it.
inline constexpr char kForgetListenerName[] = "idem-forget-listener";

// How long a replica's replay cache may serve after its listener last
// showed that it had heard every forget committed before the show began (a
// heartbeat sent then, answered after the notifications before it); and so
// how long ForgetKey waits after its commit before it answers. The other
// replicas' listeners hear the forget in that time, or their caches stop
// serving: after ForgetKey answers, no replica replays the key.
inline constexpr absl::Duration kReplayLease = absl::Milliseconds(500);

// The key that ForgetPayload made `payload` of; nullopt for anything else.
std::optional<KeyId> ParseForgetPayload(absl::string_view payload);

// Keeps this replica's replay cache from answering for a key that ForgetKey
// removed through any replica. KeyStore::Forget notifies kForgetChannel in
// the transaction that deletes the key; the listener holds a PostgreSQL
// session of its own that LISTENs on the channel and erases every key it
// hears of from the cache.
//
// PostgreSQL delivers a notification only to the sessions that listened
// when it was committed, so the cache serves only while a session listens:
// it is off from construction until the first session listens, off as soon
// as a session is lost, and on again, empty, once a new one listens (keys
// forgotten in between went unheard). A heartbeat, a query that also shows
// that the session still listens, renews the cache's lease (kReplayLease)
// each time it is answered; a session that does not answer it within
// `heartbeat_timeout` (a partition, a host that vanished) is given up.
class ForgetListener {
 public:
  struct Options {
    std::string url;  // the server's connection string: the primary
    // Between a heartbeat's answer and the next heartbeat: well within
    // kReplayLease, so that the lease is renewed before it lapses.
    absl::Duration heartbeat = absl::Milliseconds(100);
    absl::Duration heartbeat_timeout = absl::Seconds(1);
    // Between attempts to connect: from `retry_min`, doubling up to
    // `retry_max`.
    absl::Duration retry_min = absl::Milliseconds(100);
    absl::Duration retry_max = absl::Seconds(5);
  };

  // Turns `cache` off at once; it serves once the listener listens.
  ForgetListener(Options options, FinishedCallCache& cache);
  // Stops listening; the cache stays as it is. Before the cache goes.
  ~ForgetListener();

  // True once the listener listens; false if it does not within `timeout`.
  bool AwaitListening(absl::Duration timeout);

  // Notifications heard since the start, for the metrics.
  uint64_t notifications() const {
    return notifications_.load(std::memory_order_relaxed);
  }

 private:
  class Session;

  void Run();
  // Serves the cache from `session` until the session is lost (returns
  // why) or the listener stops (returns "").
  std::string Listen(Session& session);
  // Handles the notifications libpq has read.
  void HearAll(Session& session);
  void Heard(const std::string& payload);
  void SetListening(bool listening);

  const Options options_;
  FinishedCallCache& cache_;
  absl::Mutex mu_;
  bool listening_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> notifications_{0};
  int wake_fd_ = -1;  // an eventfd: ends the thread's wait when it stops
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_FORGET_LISTENER_H_
