// Keyed CopyFile: the key is held with a lease while the file is copied.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "service/common/sha256.h"
#include "service/keys/fingerprint.h"
#include "tests/integration/keyed/keyed_fixture.h"

namespace idem::testing::keyed {
namespace {

namespace fs = std::filesystem;

class KeyedCopyTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    char dir[] = "/tmp/idem-keyed-root-XXXXXX";
    root_ = mkdtemp(dir);
    StartServer({{"IDEM_STORAGE_ROOT", root_}, {"IDEM_COPY_LEASE", "1s"}});
  }
  static void TearDownTestSuite() {
    KeyedCallTest::TearDownTestSuite();
    fs::remove_all(root_);
  }

 protected:
  static void Write(const std::string& path, const std::string& content) {
    fs::create_directories((fs::path(root_) / path).parent_path());
    std::ofstream(fs::path(root_) / path, std::ios::binary) << content;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(fs::path(root_) / path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }
  // A fresh source file with `content`; its path.
  static std::string NewSource(const std::string& content) {
    std::string path = "in/" + TestDatabase::UniqueName("src") + ".txt";
    Write(path, content);
    return path;
  }
  static std::string NewDestination() {
    return "out/" + TestDatabase::UniqueName("dst") + ".txt";
  }
  // What a server that died while copying leaves behind: the key in
  // progress under this call's fingerprint, with a lease of `lease_ms`.
  // With `staged`: a server that died past its point of no return, having
  // recorded the answer it was about to give.
  void InsertInProgress(const v1::KeyedCallRequest& request, int lease_ms,
                        const v1::CopyFileResponse* staged = nullptr) {
    std::string response = "NULL";
    if (staged != nullptr) {
      v1::KeyedCallResponse answer;
      *answer.mutable_copy_file() = *staged;
      response = "decode(" +
                 Quote(absl::BytesToHexString(answer.SerializeAsString())) +
                 ", 'hex')";
    }
    db().Exec(
        "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
        "fingerprint, state, first_executed_at, last_seen_at, "
        "lease_expires_at, expires_at, response) VALUES ('default', " +
        Quote(request.idempotency_key()) + ", decode(" +
        Quote(absl::BytesToHexString(keys::Fingerprint(request))) +
        ", 'hex'), 1, now(), now(), now() + interval '" +
        std::to_string(lease_ms) +
        " milliseconds', now() + interval '1 day', " + response + ")");
  }
  // A run that was replacing a destination with "first run's content" and
  // died past staging its answer (REPLACED, with a backup beside the
  // destination); the key in progress, its lease lapsed. The destination
  // now holds `at_destination`; `renamed`: whether the run got to its
  // rename (else the destination is still the file its backup links to).
  struct StagedRun {
    std::string source, destination;
    v1::KeyedCallRequest request;
    v1::CopyFileResponse staged;
  };
  StagedRun DiedAfterStaging(const std::string& at_destination, bool renamed) {
    StagedRun run;
    run.source = NewSource("first run's content");
    run.destination = NewDestination();
    const std::string backup = run.destination + ".idem-backup-0ld";
    Write(run.destination, at_destination);
    if (renamed) {
      Write(backup, "what was there before");
    } else {
      fs::create_hard_link(fs::path(root_) / run.destination,
                           fs::path(root_) / backup);
    }
    run.staged.set_outcome(v1::COPY_OUTCOME_REPLACED);
    run.staged.set_sha256(Sha256Hex("first run's content"));
    run.staged.set_size_bytes(19);
    run.staged.set_backup_path(backup);
    run.request = Copy(NewKey("staged"), run.source, run.destination);
    InsertInProgress(run.request, 100, &run.staged);
    WaitForLeaseToLapse(run.request.idempotency_key());
    return run;
  }
  void ShortenLease(const std::string& key) {
    db().Exec(
        "UPDATE idem.idempotency_keys SET lease_expires_at = now() + interval "
        "'100 milliseconds' WHERE tenant = 'default' AND idempotency_key = " +
        Quote(key));
  }
  void WaitForLeaseToLapse(const std::string& key) {
    ASSERT_TRUE(Eventually([&] {
      return db().Scalar(
                 "SELECT lease_expires_at <= now() FROM idem.idempotency_keys "
                 "WHERE idempotency_key = " +
                 Quote(key)) == "t";
    }));
  }

  static std::string root_;
};

// The test's own flock() on a folder of the root, as another replica's copy
// into it would hold: copies into the folder wait until it is released.
class HeldFolder {
 public:
  explicit HeldFolder(const fs::path& folder) {
    fs::create_directories(folder);
    fd_ = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(flock(fd_, LOCK_EX), 0);
  }
  ~HeldFolder() { Release(); }
  void Release() {
    if (fd_ < 0) return;
    flock(fd_, LOCK_UN);
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string KeyedCopyTest::root_;

TEST_F(KeyedCopyTest, FirstCallCopiesRepeatReplays) {
  std::string source = NewSource("first content");
  std::string destination = NewDestination();
  std::string key = NewKey("copy");
  Answer first = Call(stub(), Copy(key, source, destination));
  ExpectExecuted(first);
  EXPECT_EQ(first.response.copy_file().outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(first.response.copy_file().sha256(), Sha256Hex("first content"));
  EXPECT_EQ(Read(destination), "first content");
  EXPECT_EQ(KeyState(key), "2");

  // The source changes: a replay still answers the first copy and writes
  // nothing.
  Write(source, "second content");
  ExpectReplayOf(Call(stub(), Copy(key, source, destination)), first);
  EXPECT_EQ(Read(destination), "first content");

  Answer mismatch = Call(stub(), Copy(key, source, NewDestination()));
  EXPECT_EQ(mismatch.status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(KeyedCopyTest, MissingSourceIsStoredAndReplayed) {
  std::string source = "in/" + TestDatabase::UniqueName("missing") + ".txt";
  std::string destination = NewDestination();
  std::string key = NewKey("copy");
  Answer first = Call(stub(), Copy(key, source, destination));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << first.status.error_message();
  EXPECT_FALSE(first.marked_replayed());

  Write(source, "now it exists");
  ExpectReplayOf(Call(stub(), Copy(key, source, destination)), first);
  EXPECT_FALSE(fs::exists(fs::path(root_) / destination));
}

TEST_F(KeyedCopyTest, ConcurrentDuplicatesReplayOrAreToldToRetry) {
  std::string source = NewSource(std::string(1 << 20, 'x'));
  std::string destination = NewDestination();
  std::string key = NewKey("copy");
  constexpr int kCallers = 8;
  std::vector<Answer> answers(kCallers);
  std::vector<Answer> settled(kCallers);
  {
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&, i] {
        answers[i] = Call(stub(), Copy(key, source, destination));
        settled[i] =
            answers[i].ok()
                ? answers[i]
                : CallUntilSettled(stub(), Copy(key, source, destination));
      });
    }
    for (std::thread& caller : callers) caller.join();
  }
  const Answer* first = nullptr;
  for (int i = 0; i < kCallers; ++i) {
    if (!answers[i].ok()) ExpectAbortedWithPushback(answers[i]);
    ASSERT_TRUE(settled[i].ok()) << settled[i].status.error_message();
    if (!settled[i].response.replayed()) {
      EXPECT_EQ(first, nullptr) << "copied twice";
      first = &settled[i];
    }
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->response.copy_file().outcome(), v1::COPY_OUTCOME_COPIED);
  for (const Answer& answer : settled) {
    if (&answer != first) ExpectReplayOf(answer, *first);
  }
  EXPECT_EQ(Read(destination), std::string(1 << 20, 'x'));
}

// A server was SIGKILLed while it held the key's lease: until the lease
// lapses, retries are told to come back; then one retry copies, once.
TEST_F(KeyedCopyTest, RetryTakesOverALapsedLeaseAndCompletesOnce) {
  std::string source = NewSource("leased");
  std::string destination = NewDestination();
  std::string key = NewKey("lease");
  v1::KeyedCallRequest request = Copy(key, source, destination);
  InsertInProgress(request, 60000);

  Answer held = Call(stub(), request);
  ExpectAbortedWithPushback(held);
  EXPECT_FALSE(fs::exists(fs::path(root_) / destination));
  // Another call under the leased key is a mismatch right away.
  EXPECT_EQ(
      Call(stub(), Copy(key, source, NewDestination())).status.error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  ShortenLease(key);
  WaitForLeaseToLapse(key);
  Answer retry = Call(stub(), request);
  ExpectExecuted(retry);
  EXPECT_EQ(retry.response.copy_file().outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(Read(destination), "leased");
  EXPECT_EQ(KeyState(key), "2");
  ExpectReplayOf(Call(stub(), request), retry);
}

// The dead server had already copied before it died: the retry's copy finds
// the destination identical and changes nothing.
TEST_F(KeyedCopyTest, RetryAfterACopyThatFinishedBeforeTheCrash) {
  std::string source = NewSource("already there");
  std::string destination = NewDestination();
  Write(destination, "already there");
  std::string key = NewKey("lease");
  v1::KeyedCallRequest request = Copy(key, source, destination);
  InsertInProgress(request, 100);
  WaitForLeaseToLapse(key);

  Answer retry = Call(stub(), request);
  ExpectExecuted(retry);
  EXPECT_EQ(retry.response.copy_file().outcome(), v1::COPY_OUTCOME_UNCHANGED);
  EXPECT_EQ(Read(destination), "already there");
  ExpectReplayOf(Call(stub(), request), retry);
}

// A copy that waits for its folder outlives its lease (1 s here) many times
// over: the lease is renewed while it waits, so a retry under the key is
// told to come back instead of taking the key over and copying beside it,
// and then replays the one copy.
TEST_F(KeyedCopyTest, ALiveCopyKeepsItsLeaseWhileItWaits) {
  std::string source = NewSource("waited for");
  std::string folder = TestDatabase::UniqueName("held");
  std::string key = NewKey("live");
  v1::KeyedCallRequest request = Copy(key, source, folder + "/out.txt");
  std::future<Answer> first, retry;
  HeldFolder held(fs::path(root_) / folder);  // released before the futures
  first = std::async(std::launch::async, [&] { return Call(stub(), request); });
  ASSERT_TRUE(Eventually([&] { return KeyState(key) == "1"; }));
  const std::string claimed_until = db().Scalar(
      "SELECT lease_expires_at FROM idem.idempotency_keys "
      "WHERE idempotency_key = " +
      Quote(key));
  ASSERT_TRUE(Eventually([&] {
    return db().Scalar("SELECT now() > " + Quote(claimed_until) +
                       "::timestamptz + interval '2 seconds'") == "t";
  }));
  EXPECT_EQ(db().Scalar("SELECT lease_expires_at > now() FROM "
                        "idem.idempotency_keys WHERE idempotency_key = " +
                        Quote(key)),
            "t");

  retry = std::async(std::launch::async, [&] { return Call(stub(), request); });
  ASSERT_EQ(retry.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the retry took the live copy's key over";
  ExpectAbortedWithPushback(retry.get());
  held.Release();
  Answer done = first.get();
  ExpectExecuted(done);
  EXPECT_EQ(done.response.copy_file().outcome(), v1::COPY_OUTCOME_COPIED);
  ExpectReplayOf(Call(stub(), request), done);
}

// A copy waiting for its folder whose key another replica took over (its
// lease lapsed while this replica stalled, say): it must not copy when it
// gets the folder, over whatever the key's new holder did. Here the key
// changes hands while the copy waits; the copy then writes nothing and
// answers what the key holds.
TEST_F(KeyedCopyTest, ACopyWhoseKeyChangedHandsWritesNothing) {
  std::string source = NewSource("stale run");
  std::string folder = TestDatabase::UniqueName("taken");
  std::string key = NewKey("taken");
  v1::KeyedCallRequest request = Copy(key, source, folder + "/out.txt");
  HeldFolder held(fs::path(root_) / folder);
  std::future<Answer> first =
      std::async(std::launch::async, [&] { return Call(stub(), request); });
  ASSERT_TRUE(Eventually([&] { return KeyState(key) == "1"; }));
  db().Exec(
      "UPDATE idem.idempotency_keys SET lease_owner = '\\x0badc0de' "
      "WHERE idempotency_key = " +
      Quote(key));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  held.Release();
  Answer answer = first.get();
  EXPECT_FALSE(fs::exists(fs::path(root_) / folder / "out.txt"))
      << "copied under a key another run holds";
  ExpectAbortedWithPushback(answer);
  EXPECT_EQ(KeyState(key), "1");
}

// A server died after its rename and before it recorded the answer, which
// it had staged: the retry that takes the key over answers what that run
// did (REPLACED, its backup), not UNCHANGED, and copies nothing again, even
// though the source changed since.
TEST_F(KeyedCopyTest, ATakeoverAfterTheRenameAnswersTheStagedCopy) {
  const StagedRun died = DiedAfterStaging("first run's content", true);
  Write(died.source, "changed since");
  Answer retry = Call(stub(), died.request);
  ExpectExecuted(retry);
  EXPECT_EQ(retry.response.copy_file().outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(retry.response.copy_file().backup_path(),
            died.staged.backup_path());
  EXPECT_EQ(retry.response.copy_file().sha256(), died.staged.sha256());
  EXPECT_EQ(Read(died.destination), "first run's content");
  ExpectReplayOf(Call(stub(), died.request), retry);
}

// The same, when another writer replaced the destination after the rename:
// the key's copy happened, and is not done again over the newer file.
TEST_F(KeyedCopyTest, ATakeoverAfterTheRenameDoesNotCopyOverANewerFile) {
  const StagedRun died = DiedAfterStaging("a later writer's content", true);
  Answer retry = Call(stub(), died.request);
  ExpectExecuted(retry);
  EXPECT_EQ(retry.response.copy_file().outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(Read(died.destination), "a later writer's content");
}

// A server died past staging but before its rename: the destination is
// still the very file its backup links to, so the retry copies.
TEST_F(KeyedCopyTest, ATakeoverBeforeTheRenameCopies) {
  const StagedRun died = DiedAfterStaging("what was there before", false);
  Answer retry = Call(stub(), died.request);
  ExpectExecuted(retry);
  EXPECT_EQ(retry.response.copy_file().outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(Read(died.destination), "first run's content");
}

// A staged answer belongs to its call: a key whose record expired while a
// dead run's claim sat staged, used again for another call, runs that call
// and never answers with the other's staged copy.
TEST_F(KeyedCopyTest, AStagedAnswerIsNotAnotherCallsAfterTheKeyExpired) {
  const StagedRun died = DiedAfterStaging("first run's content", true);
  db().Exec(
      "UPDATE idem.idempotency_keys SET expires_at = now() - interval '1 "
      "second' WHERE idempotency_key = " +
      Quote(died.request.idempotency_key()));
  const std::string destination = NewDestination();
  Write(destination, "old");
  const v1::KeyedCallRequest other =
      Copy(died.request.idempotency_key(), NewSource("new"), destination);
  Answer answer = Call(stub(), other);
  ExpectExecuted(answer);
  EXPECT_EQ(answer.response.copy_file().sha256(), Sha256Hex("new"));
  EXPECT_EQ(Read(destination), "new");
}

}  // namespace
}  // namespace idem::testing::keyed
