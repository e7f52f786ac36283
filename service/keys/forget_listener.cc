#include "service/keys/forget_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/observability/log.h"

namespace idem::keys {

std::optional<KeyId> ParseForgetPayload(absl::string_view payload) {
  const size_t colon = payload.find(':');
  size_t tenant_size = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(payload.substr(0, colon), &tenant_size)) {
    return std::nullopt;
  }
  absl::string_view rest = payload.substr(colon + 1);
  if (tenant_size >= rest.size()) return std::nullopt;  // a key is never empty
  return KeyId{std::string(rest.substr(0, tenant_size)),
               std::string(rest.substr(tenant_size))};
}

namespace {

// Answers the backend's pid while the session listens on the channel.
std::string ListeningSql() {
  return absl::StrCat(
      "SELECT pg_backend_pid() FROM pg_listening_channels() AS c WHERE c = '",
      kForgetChannel, "'");
}

// Whether `result` is one row holding the pid of the backend that libpq
// connected to.
bool FromOwnBackend(PGconn* connection, PGresult* result) {
  int pid = 0;
  return PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1 &&
         absl::SimpleAtoi(PQgetvalue(result, 0, 0), &pid) &&
         pid == PQbackendPID(connection);
}

// libpq's last error without its trailing newline.
std::string ErrorOf(PGconn* connection) {
  return std::string(
      absl::StripTrailingAsciiWhitespace(PQerrorMessage(connection)));
}

}  // namespace

// The listening session, on libpq itself: libpqxx 6.4 cannot wait for the
// answer to a query with a deadline (the heartbeat), and its
// notification_receiver does not report a LISTEN that failed.
class ForgetListener::Session {
 public:
  // Connects, names the session and listens; null (and `error`) when any of
  // it fails.
  static std::unique_ptr<Session> Open(const std::string& url,
                                       std::string& error) {
    std::unique_ptr<Session> session(new Session(PQconnectdb(url.c_str())));
    // What PostgreSQL says outside an answer (the FATAL of a terminated
    // session, a WARNING at its shutdown) goes to the log as JSON; libpq
    // would print it raw on stderr, in between the log's lines.
    PQsetNoticeProcessor(
        session->connection_,
        [](void*, const char* message) {
          log::Warn(
              "forget_listener",
              {{"notice",
                std::string(absl::StripTrailingAsciiWhitespace(message))}});
        },
        nullptr);
    if (PQstatus(session->connection_) != CONNECTION_OK) {
      error = session->Failure("");
      return nullptr;
    }
    // A connection pooler answers from a backend of its choosing and gives
    // its clients a pid of its own; in transaction mode a notification
    // would reach whichever client holds the backend at the time, or none.
    // So the session must be PostgreSQL's own, and no LISTEN is left on a
    // pooled one.
    if (!session->AnswersFromOwnBackend("SELECT pg_backend_pid()")) {
      error = session->Failure(
          "the session is not PostgreSQL's own: is a connection pooler in "
          "between? (IDEM_NOTIFY_DATABASE_URL must reach the primary "
          "directly)");
      return nullptr;
    }
    PGresult* listen = PQexec(
        session->connection_,
        absl::StrCat("SELECT set_config('application_name', '",
                     kForgetListenerName, "', false); LISTEN ", kForgetChannel)
            .c_str());
    const bool listened = PQresultStatus(listen) == PGRES_COMMAND_OK;
    PQclear(listen);
    if (!listened || !session->AnswersFromOwnBackend(ListeningSql())) {
      error = session->Failure(
          absl::StrCat("the session does not listen on ", kForgetChannel));
      return nullptr;
    }
    return session;
  }
  ~Session() { PQfinish(connection_); }

  PGconn* connection() const { return connection_; }

 private:
  explicit Session(PGconn* connection) : connection_(connection) {}

  bool AnswersFromOwnBackend(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    const bool own = FromOwnBackend(connection_, result);
    PQclear(result);
    return own;
  }

  // Why a step failed: libpq's error once the connection is lost, else
  // `otherwise`.
  std::string Failure(const std::string& otherwise) const {
    return PQstatus(connection_) != CONNECTION_OK || otherwise.empty()
               ? ErrorOf(connection_)
               : otherwise;
  }

  PGconn* const connection_;
};

ForgetListener::ForgetListener(Options options, FinishedCallCache& cache)
    : options_(std::move(options)),
      cache_(cache),
      wake_fd_(eventfd(0, EFD_CLOEXEC)) {
  cache_.SetServing(false);
  thread_ = std::thread([this] { Run(); });
}

ForgetListener::~ForgetListener() {
  stop_.Notify();
  // Should the write fail, the thread still sees stop_ within a heartbeat.
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
}

void ForgetListener::Run() {
  absl::Duration retry = options_.retry_min;
  bool told_down = false;  // the log says so once per outage
  while (!stop_.HasBeenNotified()) {
    std::string why;
    std::unique_ptr<Session> session = Session::Open(options_.url, why);
    if (session != nullptr) {
      SetListening(true);
      log::Info("forget_listener", {{"listening", true}});
      retry = options_.retry_min;
      why = Listen(*session);
      SetListening(false);
      if (why.empty()) return;  // stopping
      session.reset();
      told_down = false;
    }
    if (!told_down) {
      log::Warn("forget_listener",
                {{"listening", false},
                 {"message", why},
                 {"replay_cache", "off until listening again"}});
      told_down = true;
    }
    if (stop_.WaitForNotificationWithTimeout(retry)) return;
    retry = std::min(retry * 2, options_.retry_max);
  }
}

std::string ForgetListener::Listen(Session& session) {
  PGconn* connection = session.connection();
  const std::string heartbeat_sql = ListeningSql();
  // A heartbeat is in flight (`awaiting`, sent at `sent_at`) or due: `due`
  // is when the next one goes, or when the one in flight must have been
  // answered.
  bool awaiting = false;
  bool answered_listening = false;
  FinishedCallCache::Clock::time_point sent_at;
  absl::Time due = absl::Now() + options_.heartbeat;
  while (true) {
    pollfd fds[2] = {{PQsocket(connection), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int64_t wait_ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(due - absl::Now()) + 1);
    if (poll(fds, 2, static_cast<int>(wait_ms)) < 0 && errno != EINTR) {
      return absl::StrCat("poll failed: errno ", errno);
    }
    if (stop_.HasBeenNotified()) return "";
    if (PQconsumeInput(connection) == 0) return ErrorOf(connection);
    HearAll(session);
    while (awaiting && PQisBusy(connection) == 0) {
      PGresult* result = PQgetResult(connection);
      if (result == nullptr) {  // the heartbeat's answer is complete
        if (!answered_listening) {
          return absl::StrCat("the session no longer listens on ",
                              kForgetChannel);
        }
        // PostgreSQL sends a notification committed before the heartbeat
        // was sent ahead of its answer, and libpq may have read it along
        // with the answer: heard first, then the lease.
        HearAll(session);
        cache_.ServeUntil(sent_at + absl::ToChronoNanoseconds(kReplayLease));
        awaiting = false;
        due = absl::Now() + options_.heartbeat;
        break;
      }
      answered_listening = FromOwnBackend(connection, result);
      PQclear(result);
    }
    if (PQstatus(connection) != CONNECTION_OK) return ErrorOf(connection);
    if (absl::Now() < due) continue;
    if (awaiting) {
      return absl::StrCat("no answer to the heartbeat within ",
                          absl::FormatDuration(options_.heartbeat_timeout));
    }
    sent_at = FinishedCallCache::Clock::now();
    if (PQsendQuery(connection, heartbeat_sql.c_str()) == 0) {
      return ErrorOf(connection);
    }
    awaiting = true;
    answered_listening = false;
    due = absl::Now() + options_.heartbeat_timeout;
  }
}

void ForgetListener::HearAll(Session& session) {
  while (PGnotify* notification = PQnotifies(session.connection())) {
    Heard(notification->extra);
    PQfreemem(notification);
  }
}

void ForgetListener::Heard(const std::string& payload) {
  notifications_.fetch_add(1, std::memory_order_relaxed);
  if (std::optional<KeyId> id = ParseForgetPayload(payload)) {
    cache_.Erase(*id);
  }
}

void ForgetListener::SetListening(bool listening) {
  // Off before anything else can happen, on once the session listens: it
  // has heard every forget whose record the cache may take from now on.
  cache_.SetServing(listening);
  if (listening) {
    cache_.ServeUntil(FinishedCallCache::Clock::now() +
                      absl::ToChronoNanoseconds(kReplayLease));
  }
  absl::MutexLock lock(&mu_);
  listening_ = listening;
}

bool ForgetListener::AwaitListening(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&listening_), timeout);
}

}  // namespace idem::keys
