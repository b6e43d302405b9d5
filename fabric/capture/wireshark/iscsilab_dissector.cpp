// A Wireshark 4.0 plugin: the dissector for iscsilab's records, UDP datagrams on port
// 47474 next to the iSCSI traffic: fault records (faults/record.hpp), which a simulated
// run writes into its pcap, and the wire checker's violation records
// (reports/checker/violation_record.hpp), in simulated pcaps and in copies of any
// capture made by `iscsilab check --annotate`. Filter with `iscsilab.violation`.
// Install iscsilab.so under ~/.local/lib/wireshark/plugins/4.0/epan/.
#include <epan/packet.h>
#include <epan/proto.h>
#include <ws_symbol_export.h>

#include "faults/record.hpp"
#include "reports/checker/violation_record.hpp"

// Namespace-scope consts have internal linkage in C++: `extern` exports them.
extern "C" {
WS_DLL_PUBLIC_DEF extern const gchar plugin_version[] = "1.0.0";
WS_DLL_PUBLIC_DEF extern const int plugin_want_major = 4;
WS_DLL_PUBLIC_DEF extern const int plugin_want_minor = 0;
WS_DLL_PUBLIC void plugin_register(void);
}

namespace {

int proto_iscsilab = -1;
int hf_version = -1, hf_kind = -1, hf_direction = -1, hf_initiator = -1, hf_sequence = -1;
int hf_time = -1, hf_duration = -1, hf_text = -1;
gint ett_iscsilab = -1, ett_violation = -1;
int hf_violation = -1, hf_v_id = -1, hf_v_text = -1, hf_v_connection = -1, hf_v_pdu = -1, hf_v_frame = -1,
    hf_v_by_initiator = -1;

// The order of faults::Kind.
const value_string kind_names[] = {
    {0, "link stall"},   {1, "link reset"},   {2, "corrupt segment"}, {3, "latency spike"},
    {4, "disk slow"},    {5, "medium error"}, {6, "disk offline"},    {7, "power loss"},
    {8, "task management"}, {9, "initiator crash"}, {10, "Data-Out withheld"}, {11, "initiator frozen"},
    {12, "logout during I/O"}, {14, "PDU cut (reset inside a PDU)"}, {15, "bandwidth drop"}, {16, "write error"},
    {17, "torn write at power loss"}, {18, "misdirected write"}, {19, "misdirected read"}, {20, "delivery stuck"},
    {21, "duplicate ISID login"}, {22, "NOP-Out storm"}, {23, "BHS bit flip"}, {24, "initiator misbehaves"},
    {25, "persistent reserve out"},
    {0, nullptr},
};
const value_string direction_names[] = {
    {0, "to the target"}, {1, "to the initiator"}, {2, "both ways"}, {0xff, "n/a"}, {0, nullptr},
};

// A violation record: the rule's id and what broke it, beside the PDU that did.
int dissect_violation(tvbuff_t* tvb, packet_info* pinfo, proto_tree* tree) {
    using iscsilab::checker::VIOLATION_RECORD_HEADER;
    if (tvb_captured_length(tvb) < VIOLATION_RECORD_HEADER + 2) return 0;
    const guint8 id_len = tvb_get_guint8(tvb, 34);
    if (tvb_captured_length(tvb) < VIOLATION_RECORD_HEADER + id_len + 2u) return 0;
    const guint16 text_len = tvb_get_ntohs(tvb, VIOLATION_RECORD_HEADER + id_len);
    const int text_at = static_cast<int>(VIOLATION_RECORD_HEADER + id_len + 2);
    const int total = text_at + text_len;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "iscsilab");
    const guint8* id = tvb_get_string_enc(pinfo->pool, tvb, VIOLATION_RECORD_HEADER, id_len, ENC_ASCII);
    col_add_fstr(pinfo->cinfo, COL_INFO, "Violation of %s (PDU #%" G_GUINT64_FORMAT " of connection %u)", id,
                 tvb_get_ntoh64(tvb, 10), tvb_get_ntohl(tvb, 6));
    proto_item* ti = proto_tree_add_item(tree, proto_iscsilab, tvb, 0, total, ENC_NA);
    proto_tree* t = proto_item_add_subtree(ti, ett_iscsilab);
    proto_item* vi = proto_tree_add_item(t, hf_violation, tvb, 0, total, ENC_NA);
    proto_tree* v = proto_item_add_subtree(vi, ett_violation);
    proto_tree_add_item(v, hf_v_id, tvb, VIOLATION_RECORD_HEADER, id_len, ENC_ASCII);
    proto_tree_add_item(v, hf_v_by_initiator, tvb, 5, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(v, hf_v_connection, tvb, 6, 4, ENC_BIG_ENDIAN);
    proto_tree_add_item(v, hf_v_pdu, tvb, 10, 8, ENC_BIG_ENDIAN);
    proto_tree_add_item(v, hf_time, tvb, 18, 8, ENC_BIG_ENDIAN);
    proto_tree_add_item(v, hf_v_frame, tvb, 26, 8, ENC_BIG_ENDIAN);
    proto_tree_add_item(v, hf_v_text, tvb, text_at, text_len, ENC_UTF_8);
    return total;
}

int dissect(tvbuff_t* tvb, packet_info* pinfo, proto_tree* tree, void*) {
    using iscsilab::faults::kRecordHeader;
    if (tvb_captured_length(tvb) >= 4 && tvb_get_ntohl(tvb, 0) == iscsilab::checker::VIOLATION_RECORD_MAGIC)
        return dissect_violation(tvb, pinfo, tree);
    if (tvb_captured_length(tvb) < kRecordHeader || tvb_get_ntohl(tvb, 0) != iscsilab::faults::kRecordMagic)
        return 0;  // not ours: let others try
    const guint16 text_len = tvb_get_ntohs(tvb, 28);
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "iscsilab");
    const guint8* text = tvb_get_string_enc(pinfo->pool, tvb, kRecordHeader, text_len, ENC_UTF_8);
    col_add_fstr(pinfo->cinfo, COL_INFO, "Fault #%u: %s", tvb_get_ntohl(tvb, 8), text);

    proto_item* ti = proto_tree_add_item(tree, proto_iscsilab, tvb, 0, kRecordHeader + text_len, ENC_NA);
    proto_tree* t = proto_item_add_subtree(ti, ett_iscsilab);
    proto_tree_add_item(t, hf_version, tvb, 4, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_kind, tvb, 5, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_direction, tvb, 6, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_initiator, tvb, 7, 1, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_sequence, tvb, 8, 4, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_time, tvb, 12, 8, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_duration, tvb, 20, 8, ENC_BIG_ENDIAN);
    proto_tree_add_item(t, hf_text, tvb, kRecordHeader, text_len, ENC_UTF_8);
    return static_cast<int>(kRecordHeader + text_len);
}

void register_protocol() {
    static hf_register_info hf[] = {
        {&hf_version, {"Version", "iscsilab.version", FT_UINT8, BASE_DEC, nullptr, 0x0, nullptr, HFILL}},
        {&hf_kind, {"Kind", "iscsilab.kind", FT_UINT8, BASE_DEC, VALS(kind_names), 0x0, nullptr, HFILL}},
        {&hf_direction, {"Direction", "iscsilab.direction", FT_UINT8, BASE_DEC, VALS(direction_names), 0x0, nullptr, HFILL}},
        {&hf_initiator, {"Initiator", "iscsilab.initiator", FT_UINT8, BASE_DEC, nullptr, 0x0,
                         "Index of the initiator (255: all, or none)", HFILL}},
        {&hf_sequence, {"Sequence", "iscsilab.sequence", FT_UINT32, BASE_DEC, nullptr, 0x0, nullptr, HFILL}},
        {&hf_time, {"Simulated time (ns)", "iscsilab.time", FT_UINT64, BASE_DEC, nullptr, 0x0, nullptr, HFILL}},
        {&hf_duration, {"Duration (ns)", "iscsilab.duration", FT_UINT64, BASE_DEC, nullptr, 0x0, nullptr, HFILL}},
        {&hf_text, {"Text", "iscsilab.text", FT_STRING, BASE_NONE, nullptr, 0x0, nullptr, HFILL}},
        {&hf_violation, {"Wire rule violation", "iscsilab.violation", FT_NONE, BASE_NONE, nullptr, 0x0,
                         "A verdict of iscsilab's wire checker", HFILL}},
        {&hf_v_id, {"Requirement", "iscsilab.violation.id", FT_STRING, BASE_NONE, nullptr, 0x0,
                    "Catalogue id of the rule broken (reports/catalogue)", HFILL}},
        {&hf_v_text, {"Rule and detail", "iscsilab.violation.text", FT_STRING, BASE_NONE, nullptr, 0x0, nullptr, HFILL}},
        {&hf_v_connection, {"Connection", "iscsilab.violation.connection", FT_UINT32, BASE_DEC, nullptr, 0x0, nullptr, HFILL}},
        {&hf_v_pdu, {"PDU index", "iscsilab.violation.pdu", FT_UINT64, BASE_DEC, nullptr, 0x0,
                     "PDUs of the connection, both directions, from 0", HFILL}},
        {&hf_v_frame, {"Frame", "iscsilab.violation.frame", FT_UINT64, BASE_DEC, nullptr, 0x0,
                       "The capture frame that completed the PDU (0 in simulation)", HFILL}},
        {&hf_v_by_initiator, {"Broken by the initiator", "iscsilab.violation.by_initiator", FT_UINT8, BASE_DEC, nullptr, 0x1,
                              nullptr, HFILL}},
    };
    static gint* ett[] = {&ett_iscsilab, &ett_violation};
    proto_iscsilab = proto_register_protocol("iscsilab fault and violation records", "iscsilab", "iscsilab");
    proto_register_field_array(proto_iscsilab, hf, G_N_ELEMENTS(hf));
    proto_register_subtree_array(ett, G_N_ELEMENTS(ett));
}

void register_handoff() {
    dissector_handle_t h = create_dissector_handle(dissect, proto_iscsilab);
    dissector_add_uint("udp.port", iscsilab::faults::kRecordPort, h);
}

}  // namespace

void plugin_register(void) {
    static proto_plugin plugin;
    plugin.register_protoinfo = register_protocol;
    plugin.register_handoff = register_handoff;
    proto_register_plugin(&plugin);
}
