// scst.conf (target/mgmt/scst_conf.*) parsed, written back and parsed again, and applied
// to an Scst (target/mgmt/scst.*) whose stores are memory (MemStores: no file is ever
// opened). What applied is saved as the management tree saves it, and that must load
// into a fresh Scst: a configuration the target runs is one it can write back.
//
// Input: the text of an scst.conf.
#include "fuzz_support.hpp"
#include "target/mgmt/tree.hpp"

using namespace iscsilab;
using namespace iscsilab::mgmt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const ConfParse parsed = parse_scst_conf(text, "fuzz.conf");
    if (parsed.error) {
        if (parsed.error->line < 1) fuzz::fail("a parse error without a line: " + parsed.error->text());
        return 0;
    }
    // The writer's output parses, and writing that again gives the same text.
    const std::string written = write_scst_conf(parsed.blocks);
    const ConfParse again = parse_scst_conf(written, "written.conf");
    if (!again.error && write_scst_conf(again.blocks) != written)
        fuzz::fail("write_scst_conf is not stable over its own output");

    testing::FixedRandom rnd;
    iscsi::IscsiDriver driver(rnd);
    fuzz::MemStores stores;
    Scst scst(driver, stores);
    if (scst.apply(parsed.blocks, "fuzz.conf")) return 0;

    MgmtTree tree(scst, 1);
    const std::string saved = tree.save();
    const ConfParse reread = parse_scst_conf(saved, "saved.conf");
    if (reread.error) fuzz::fail("the saved configuration does not parse: " + reread.error->text() + "\n" + saved);
    iscsi::IscsiDriver driver2(rnd);
    fuzz::MemStores stores2;
    Scst scst2(driver2, stores2);
    if (auto e = scst2.apply(reread.blocks, "saved.conf"))
        fuzz::fail("the saved configuration does not load: " + e->text() + "\n" + saved);
    MgmtTree tree2(scst2, 1);
    if (tree2.save() != saved) fuzz::fail("saving what was loaded from a save differs:\n" + saved + "\n--\n" + tree2.save());
    (void)tree.tree("");
    return 0;
}
