// The access log: one line per request in the field order of the ALB's access log entries
// (type time elb client:port target:port request_processing_time target_processing_time
// response_processing_time elb_status_code target_status_code received_bytes sent_bytes
// "request" "user_agent" ssl_cipher ssl_protocol target_group "trace_id" "domain_name"
// "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
// "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
// "classification_reason"). Cores format lines into a buffer of their own and hand it over once
// per loop pass; a writer thread appends to the file, so no core waits on the disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::proxy {

struct AccessRecord {
  std::string_view listener;
  std::string_view client;                                // address:port
  std::string_view target;                                // address:port, or "-"
  double request_s = -1, target_s = -1, response_s = -1;  // -1 when not applicable
  uint16_t status = 0;
  int target_status = -1;
  uint64_t received_bytes = 0, sent_bytes = 0;
  std::string_view method, url, version;  // url: http://host:port/path?query
  std::string_view user_agent;
  std::string_view target_group;   // or "-"
  std::string_view domain;         // the Host header
  std::string_view rule_priority;  // "-" for the default action
  std::string_view request_time;   // ISO 8601, when the request began
  std::string_view actions;        // forward, redirect, fixed-response
  std::string_view redirect_url;
  std::string_view error_reason;  // e.g. TargetConnectionError, TargetResponseTimeout
};

// Appends the record's line (with its newline) to `out`.
void format_access_record(std::string& out, std::string_view time, const AccessRecord& r);

class AccessLog {
 public:
  // Opens (appends to) `path`; throws std::runtime_error naming it when it cannot.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Takes the lines in `lines` (leaving it empty) for the writer.
  void hand_over(std::string& lines);

 private:
  void write_loop();

  int fd_ = -1;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace sluice::proxy
