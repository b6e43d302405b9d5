// The management tree (target/mgmt/tree*.*): mgmt commands, attribute writes and reads,
// fed as lines, over the same target as the connection harness, optionally with a
// session logged in (so that sessions/, force_close and the LUN changes a live session
// sees are reached).
//
// Input: flags (1 byte), then lines. "PATH VALUE" writes VALUE to PATH (an attribute or a
// mgmt file); a line without a space reads PATH (cat, ls, and tree for a directory).
// flags bit 0: a session is logged in first; bit 1: store completions come later.
// After the lines: a save, which must parse, and the whole tree drawn.
#include "fuzz_support.hpp"
#include "target/mgmt/tree.hpp"

using namespace iscsilab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t flags = in.u8();
    fuzz::IscsiRig rig((flags & 0x02) != 0);
    mgmt::MgmtTree tree(rig.scst, 2);
    auto s = rig.connect();
    if (flags & 0x01) rig.login(*s, fuzz::LoginChoice{});
    for (int lines = 0; !in.empty() && lines < 64; ++lines) {
        const std::string line(in.record('\n'));
        const auto sp = line.find(' ');
        if (sp != std::string::npos) {
            (void)tree.write(line.substr(0, sp), line.substr(sp + 1));
        } else {
            (void)tree.cat(line);
            auto ls = tree.ls(line);
            if (ls.ok() && ls.value.size() > 1) (void)tree.tree(line);
        }
        rig.loop.run();
        s->out.clear();
    }
    const std::string saved = tree.save();
    const auto parsed = mgmt::parse_scst_conf(saved, "saved.conf");
    if (parsed.error) fuzz::fail("the saved configuration does not parse: " + parsed.error->text() + "\n" + saved);
    (void)tree.tree("");
    rig.finish(*s);
    return 0;
}
