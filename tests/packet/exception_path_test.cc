// The main lcore's half of the exception path (ExceptionPath) without a real TAP: each "TAP" is
// one end of a SOCK_SEQPACKET socket pair, which keeps frame boundaries as a TAP does, and the
// test plays the kernel on the other end. Frames on the to-kernel ring must come out of their
// port's TAP whole; frames the kernel writes must land on the from-kernel ring as mbufs carrying
// their port index; the doorbell must wake poll().
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <utility>
#include <vector>

#include "config.h"
#include "exception_path.h"
#include "packet_builder.h"
#include "packet_harness.h"

namespace sluice::test {
namespace {

using exception::ExceptionPath;
using exception::ExceptionRings;
using exception::TapDevice;

class ExceptionPathTest : public ::testing::Test {
 protected:
  void SetUp() override { build(64); }

  void build(unsigned ring_size) {
    path_.reset();
    rings_.reset();
    for (int fd : kernel_ends_) close(fd);
    kernel_ends_.clear();
    rings_ = std::make_unique<ExceptionRings>("ept", ring_size, ring_size);
    std::vector<TapDevice> taps;
    for (int i = 0; i < 2; ++i) {
      int sv[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
      taps.emplace_back(sv[0], "tap" + std::to_string(i));
      kernel_ends_.push_back(sv[1]);
    }
    path_ = std::make_unique<ExceptionPath>(*rings_, std::move(taps), pool_.get());
  }

  void TearDown() override {
    path_.reset();
    rings_.reset();
    for (int fd : kernel_ends_) close(fd);
    EXPECT_EQ(pool_.available(), pool_.size()) << "mbufs leaked";
  }

  // A worker hands `frame` (as a chain of `segment_bytes` segments if non-zero) to the kernel.
  void worker_sends(uint16_t port_index, const Frame& frame, size_t segment_bytes = 0) {
    rte_mbuf* m = pool_.make(frame, segment_bytes);
    m->port = port_index;
    ASSERT_EQ(rings_->channel(false).send(&m, 1), 1);
  }

  // What the kernel received on TAP `i`.
  std::vector<Frame> kernel_received(int i) {
    std::vector<Frame> frames;
    Frame buf(65536);
    for (;;) {
      const ssize_t n = recv(kernel_ends_[i], buf.data(), buf.size(), 0);
      if (n < 0) break;
      frames.emplace_back(buf.begin(), buf.begin() + n);
    }
    return frames;
  }

  void kernel_sends(int i, const Frame& frame) {
    ASSERT_EQ(send(kernel_ends_[i], frame.data(), frame.size(), 0),
              static_cast<ssize_t>(frame.size()));
  }

  // Takes the from-kernel ring: (port index, frame, segments).
  std::vector<std::pair<uint16_t, Frame>> from_kernel_ring(
      std::vector<uint16_t>* segments = nullptr) {
    std::vector<std::pair<uint16_t, Frame>> out;
    void* p = nullptr;
    while (rte_ring_dequeue(rings_->from_kernel(), &p) == 0) {
      auto* m = static_cast<rte_mbuf*>(p);
      out.emplace_back(m->port, to_frame(m));
      if (segments != nullptr) segments->push_back(m->nb_segs);
      rte_pktmbuf_free(m);
    }
    return out;
  }

  PacketPool pool_;
  std::unique_ptr<ExceptionRings> rings_;
  std::unique_ptr<ExceptionPath> path_;
  std::vector<int> kernel_ends_;
};

Frame frame_of(size_t size, uint8_t fill) {
  Frame f = raw_frame(size, fill);
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<uint8_t>(f[i] + i);
  return f;
}

TEST_F(ExceptionPathTest, FramesGoToTheirPortsTapWhole) {
  const Frame a = frame_of(60, 1), b = frame_of(1514, 2), chained = frame_of(3000, 3);
  worker_sends(0, a);
  worker_sends(1, b);
  worker_sends(1, chained, 700);
  EXPECT_EQ(path_->drain_to_kernel(100), 3u);
  EXPECT_EQ(kernel_received(0), std::vector<Frame>{a});
  EXPECT_EQ(kernel_received(1), (std::vector<Frame>{b, chained}));
  EXPECT_EQ(path_->counters(0).to_kernel_packets.get(), 1u);
  EXPECT_EQ(path_->counters(1).to_kernel_packets.get(), 2u);
  EXPECT_EQ(path_->counters(1).to_kernel_bytes.get(), 1514u + 3000u);
}

TEST_F(ExceptionPathTest, DrainIsBounded) {
  for (int i = 0; i < 10; ++i) worker_sends(0, frame_of(64, static_cast<uint8_t>(i)));
  EXPECT_EQ(path_->drain_to_kernel(4), 4u);
  EXPECT_EQ(kernel_received(0).size(), 4u);
  EXPECT_FALSE(path_->ready_to_sleep()) << "frames are still waiting";
  EXPECT_EQ(path_->drain_to_kernel(100), 6u);
  EXPECT_TRUE(path_->ready_to_sleep());
}

TEST_F(ExceptionPathTest, FrameForAPortWithoutTapIsCountedAndFreed) {
  worker_sends(7, frame_of(64, 1));
  EXPECT_EQ(path_->drain_to_kernel(10), 1u);
  EXPECT_EQ(path_->misdirected(), 1u);
  EXPECT_TRUE(kernel_received(0).empty());
  EXPECT_TRUE(kernel_received(1).empty());
}

TEST_F(ExceptionPathTest, KernelFramesBecomeMbufsForTheirPort) {
  const Frame a = frame_of(42, 1), b = frame_of(1514, 2), jumbo = frame_of(9014, 3);
  kernel_sends(1, a);
  kernel_sends(0, b);
  kernel_sends(1, jumbo);
  ASSERT_TRUE(path_->read_from_kernel(0, 64));
  ASSERT_TRUE(path_->read_from_kernel(1, 64));
  std::vector<uint16_t> segments;
  auto got = from_kernel_ring(&segments);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_pair(uint16_t{0}, b));
  EXPECT_EQ(got[1], std::make_pair(uint16_t{1}, a));
  EXPECT_EQ(got[2], std::make_pair(uint16_t{1}, jumbo));
  EXPECT_EQ(segments[1], 1u);
  EXPECT_GT(segments[2], 1u) << "larger than one mbuf: a chain";
  EXPECT_EQ(path_->counters(1).from_kernel_packets.get(), 2u);
  EXPECT_EQ(path_->counters(1).from_kernel_bytes.get(), 42u + 9014u);
}

TEST_F(ExceptionPathTest, ReadingIsBoundedAndAFullRingCounted) {
  build(4);  // the from-kernel ring holds 3 frames
  for (int i = 0; i < 6; ++i) kernel_sends(0, frame_of(64, static_cast<uint8_t>(i)));
  ASSERT_TRUE(path_->read_from_kernel(0, 2));
  EXPECT_EQ(rte_ring_count(rings_->from_kernel()), 2u);
  ASSERT_TRUE(path_->read_from_kernel(0, 64));
  EXPECT_EQ(from_kernel_ring().size(), 3u);
  EXPECT_EQ(path_->counters(0).from_kernel_drops.get(), 3u);
}

// The management loop's cycle: arm, poll, service.
TEST_F(ExceptionPathTest, DoorbellWakesPollAndServiceMovesBothWays) {
  std::vector<pollfd> fds = path_->poll_fds();
  ASSERT_EQ(fds.size(), 3u);
  ASSERT_TRUE(path_->ready_to_sleep());
  EXPECT_EQ(poll(fds.data(), fds.size(), 0), 0) << "nothing to do";

  const Frame to_kernel = frame_of(100, 1), from_kernel = frame_of(200, 2);
  worker_sends(1, to_kernel);  // rings the armed doorbell
  kernel_sends(0, from_kernel);
  ASSERT_EQ(poll(fds.data(), fds.size(), 1000), 2);
  EXPECT_TRUE(fds[0].revents & POLLIN) << "the doorbell";
  EXPECT_TRUE(fds[1].revents & POLLIN) << "TAP 0";
  path_->service(fds);
  EXPECT_EQ(kernel_received(1), std::vector<Frame>{to_kernel});
  EXPECT_EQ(from_kernel_ring(), (std::vector<std::pair<uint16_t, Frame>>{{0, from_kernel}}));

  // Awake (not armed): workers make no system call.
  worker_sends(0, to_kernel);
  EXPECT_EQ(poll(fds.data(), 1, 0), 0);
  EXPECT_FALSE(path_->ready_to_sleep()) << "a frame is waiting: do not sleep";
  EXPECT_EQ(poll(fds.data(), fds.size(), 0), 0);
  path_->service(fds);
  EXPECT_EQ(kernel_received(0), std::vector<Frame>{to_kernel});
  EXPECT_EQ(rings_->doorbell().wakeups(), 1u);
}

TEST_F(ExceptionPathTest, TapThatFailsIsNoLongerPolled) {
  std::vector<pollfd> fds = path_->poll_fds();
  close(kernel_ends_[1]);
  kernel_ends_[1] = -1;
  ASSERT_GE(poll(fds.data(), fds.size(), 1000), 1);
  path_->service(fds);
  EXPECT_EQ(fds[2].fd, -1);
  EXPECT_GE(fds[1].fd, 0);
}

TEST(TapNames, OneNamePerPort) {
  EXPECT_EQ(exception::tap_names("sl-exc", 1), std::vector<std::string>{"sl-exc"});
  EXPECT_EQ(exception::tap_names("sl-exc", 2), (std::vector<std::string>{"sl-exc0", "sl-exc1"}));
  EXPECT_EQ(exception::tap_names("abcdefghijklmn", 10).back(), "abcdefghijklmn9");
  EXPECT_THROW(exception::tap_names("abcdefghijklmn", 11), ConfigError);
}

}  // namespace
}  // namespace sluice::test
