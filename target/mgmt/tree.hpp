// SCST's sysfs management tree as a virtual tree (iscsi-scst README 2.0: the paths,
// attributes and mgmt command strings), computed from the live state on every access.
// `iscsilab adm`, scenario files and scst.conf all act through it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "target/log.hpp"
#include "target/mgmt/scst.hpp"
#include "target/mgmt/trace.hpp"

namespace iscsilab::mgmt {

template <class T>
struct Result {
    T value{};
    std::string error;  // empty: success
    bool ok() const { return error.empty(); }
};

struct Entry {
    enum class Kind : std::uint8_t { Dir, Attr, Link };
    std::string name;
    Kind kind = Kind::Attr;
    std::string link;  // relative target, for links
};

class MgmtTree {
public:
    MgmtTree(Scst& scst, unsigned threads) : scst_(scst), threads_(threads) {}
    ~MgmtTree();

    Result<std::vector<Entry>> ls(const std::string& path);
    Result<std::string> cat(const std::string& path);        // the value, newline-terminated
    std::string write(const std::string& path, const std::string& value);  // attribute or mgmt command
    Result<std::string> tree(const std::string& path);       // `ls -R`, drawn like tree(1)
    std::string save();                                       // the configuration as scst.conf
    // Replaces the whole configuration with the file's, or changes nothing: the file is
    // parsed and applied to a scratch copy first.
    std::string load(const std::string& text, const std::string& file, StoreFactory& stores);

    // Trace levels (trace_level attributes, trace.hpp): whether a component's level has
    // the token.
    bool tracing(const std::string& component, const std::string& token) const;
    const TraceLevels& trace_levels() const { return trace_; }
    // Every line of the core's log, the tree's own and the iSCSI driver's (it replaces the
    // driver's log), goes to sink when its component's trace_level shows it, with the
    // decorations that level asks for. Set before the first connection.
    void route_logs(LogSink sink);

    static std::vector<std::string> split(const std::string& path);

private:
    struct Node;
    Node resolve(const std::vector<std::string>& parts, std::string& err);
    Node device_node(const std::vector<std::string>& p, std::size_t i, std::string& err);
    Node handler_node(const std::vector<std::string>& p, std::size_t i, std::string& err);
    Node iscsi_node(const std::vector<std::string>& p, std::size_t i, std::string& err);
    Node target_node(const std::shared_ptr<iscsi::TargetNode>& t, const std::vector<std::string>& p, std::size_t i,
                     std::string& err);
    Node luns_node(iscsi::TargetNode& t, const std::string& group, const std::vector<std::string>& p, std::size_t i,
                   std::string& err, int depth);
    Node sessions_node(const std::shared_ptr<iscsi::TargetNode>& t, const std::vector<std::string>& p, std::size_t i,
                       std::string& err);
    Node trace_node(const std::string& component);
    Node device_groups_node(const std::vector<std::string>& p, std::size_t i, std::string& err);
    Node sgv_node(const std::vector<std::string>& p, std::string& err);
    void save_device_groups(std::vector<ConfBlock>& blocks);
    std::string driver_mgmt(const std::string& cmd);
    std::string handler_mgmt(const std::string& handler, const std::string& cmd);
    std::string luns_mgmt(iscsi::TargetNode& t, const std::string& group, const std::string& cmd);
    std::vector<std::pair<std::string, std::string>> exports_of(const scsi::Device& d);
    void draw(const std::vector<std::string>& parts, const std::string& prefix, std::string& out, int depth);
    void log(const std::string& component, const std::string& what, Trace kind = Trace::mgmt,
             LogLevel level = LogLevel::info, SourceLocation where = SourceLocation::current());
    void emit(const LogLine& line) const;

    Scst& scst_;
    unsigned threads_;
    TraceLevels trace_;
    LogSink log_;
    bool routes_driver_ = false;
};

}  // namespace iscsilab::mgmt
