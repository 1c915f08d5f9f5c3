// dbrefresh and its children end together (issue 14, item 7; issue 16, item 2): a SIGKILLed dbrefresh
// leaves no pg_restore running and no session of it on the target, and dbrefresh as PID 1 of a
// container (where the kernel drops signals a program does not handle) ends on SIGTERM while no child
// program runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "reliability_support.h"

namespace dbrefresh::testing {
namespace {

// ---- children die with dbrefresh ----------------------------------------------------------------

// Holds pg_restore in the restore step: creating public.users (which only pg_restore does) sleeps in
// the server until the client cancels. Without a death signal, a pg_restore whose dbrefresh was
// killed would sit there for ten minutes, and its session with it.
const char* kHoldPgRestore = R"(
CREATE SCHEMA lifetime_test_hold;
CREATE FUNCTION lifetime_test_hold.hold() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.users') THEN
    PERFORM pg_sleep(600);
  END IF;
END $$;
CREATE EVENT TRIGGER lifetime_test_hold ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION lifetime_test_hold.hold();
)";

class ChildLifetime : public DatabasePair {
 protected:
  std::string TargetSuperUrl() const { return TestBed::Get().SuperUrl(Cluster::kPreprod, preprod().name()); }
  // Sessions of pg_restore (its fallback application_name: the test sets no PGAPPNAME) on the target.
  long long PgRestoreSessions(const std::string& wait_event = "") const {
    return Count(TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres"),
                 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore' AND datname = '" +
                     preprod().name() + "'" + (wait_event.empty() ? "" : " AND wait_event = '" + wait_event + "'"));
  }
};

TEST_F(ChildLifetime, ASigkilledDbrefreshLeavesNoPgRestoreAndNoSessionOfItOnTheTarget) {
  Query(TargetSuperUrl(), kHoldPgRestore);
  TempDir files;
  BackgroundProcess run({DBREFRESH_BINARY, "refresh", "--confirm-target", preprod().name(), "--snapshot-dir",
                         files.File("snapshots")},
                        {{"DBREFRESH_SOURCE_URL", prod().url()},
                         {"DBREFRESH_TARGET_URL", preprod().url()},
                         {"TMPDIR", files.path()}});
  // In the restore step, pg_restore (dbrefresh's child) sleeping in the server.
  const bool held = WaitUntil(
      [&] {
        if (run.Exited() || PgRestoreSessions("PgSleep") == 0) return false;
        for (const auto& p : PgClientsOf(preprod().name())) {
          if (p.program == "pg_restore" && p.parent == run.pid()) return true;
        }
        return false;
      },
      seconds(120));
  ASSERT_TRUE(held) << "pg_restore never got held in the restore step; the run:\n" << run.Err();
  ASSERT_EQ(CurrentStep(run.Err()), "restore") << run.Err();

  run.Signal(SIGKILL);  // dbrefresh alone, not its process group
  EXPECT_EQ(run.Wait(seconds(30)), 128 + SIGKILL);

  EXPECT_TRUE(WaitUntil([&] { return PgClientsOf(preprod().name()).empty(); }, seconds(60)))
      << "pg_restore still runs after dbrefresh was killed";
  EXPECT_TRUE(WaitUntil([&] { return PgRestoreSessions() == 0; }, seconds(60)))
      << "pg_restore's sessions are still on the target after dbrefresh was killed";
}

// ---- dbrefresh as PID 1 -------------------------------------------------------------------------

// A TCP port that accepts connections and never answers: a connection attempt waits there for ever.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() {
    if (client_ >= 0) ::close(client_);
    ::close(fd_);
  }
  int port() const { return port_; }
  // True once a client has connected (within `timeout`).
  bool AwaitClient(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    client_ = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return client_ >= 0;
  }

 private:
  int fd_ = -1, client_ = -1, port_ = 0;
};

// The process `unshare --fork` started (PID 1 of the new PID namespace), as this namespace sees it.
pid_t OnlyChildOf(pid_t parent) {
  const std::string children = ReadBytes("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  return children.empty() ? 0 : std::stoi(children);
}

// Its pid inside its own namespace (the last field of NSpid).
std::string InnerPid(pid_t pid) {
  for (const auto& line : Lines(ReadBytes("/proc/" + std::to_string(pid) + "/status"))) {
    if (line.rfind("NSpid:", 0) == 0) return line.substr(line.find_last_of(" \t") + 1);
  }
  return "";
}

// As in a container: dbrefresh is PID 1, waits on a server (no child program runs), and SIGTERM
// comes from outside its namespace, as from `podman stop` or the kubelet.
TEST(DbrefreshAsPid1, SigtermWhileNoChildRunsEndsItWithAnErrorLine) {
  SilentServer server;
  TempDir files;
  std::vector<std::string> argv = {"unshare", "--pid", "--fork", "--kill-child"};
  if (::geteuid() != 0) argv.insert(argv.begin() + 1, {"--user", "--map-root-user"});
  argv.insert(argv.end(), {DBREFRESH_BINARY, "snapshot", "--target",
                           "host=127.0.0.1 port=" + std::to_string(server.port()) + " dbname=pid1 user=pid1",
                           "--out", files.File("pid1.db")});
  BackgroundProcess run(argv);
  ASSERT_TRUE(server.AwaitClient(seconds(30))) << "dbrefresh never connected; it ended with " << run.Wait(milliseconds(0))
                                               << ":\n" << run.Err();
  pid_t dbrefresh = 0;
  ASSERT_TRUE(WaitUntil([&] { return (dbrefresh = OnlyChildOf(run.pid())) > 0; }, seconds(10)));
  ASSERT_EQ(InnerPid(dbrefresh), "1") << "dbrefresh is not PID 1 of its namespace";

  ::kill(dbrefresh, SIGTERM);
  const int code = run.Wait(seconds(30));
  EXPECT_EQ(code, 128 + SIGTERM) << (code == -1 ? "still running 30 s after SIGTERM: PID 1 did not handle it\n" : "")
                                 << run.Err();
  const std::string last = LastLine(run.Err());
  EXPECT_EQ(last.rfind("error:", 0), 0u) << run.Err();
  EXPECT_TRUE(Contains(last, "interrupted by SIGTERM")) << run.Err();
}

}  // namespace
}  // namespace dbrefresh::testing
