// SPDX-License-Identifier: MIT
// Exact output of the wire encoder, parser and name printer, pinned before they were tuned
// for the UDP hot path (issue 14): serialize(), parse() and Name::to_gateway_text() must stay
// byte-for-byte what they were. Small messages are pinned as hex; large and randomised ones
// as a digest (FNV-1a 64) of everything written, recorded from the untuned code.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "resolver/wire/fold.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver::wire;

namespace {

std::string hex(const std::vector<std::uint8_t>& v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (const auto b : v) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0xF]);
    }
    return out;
}

/// Folds bytes into a running FNV-1a 64 digest, with a length separator so that where one
/// input ends is part of the digest.
struct Digest {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    void add(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        for (std::size_t i = 0; i < n; ++i) {
            h = (h ^ p[i]) * 0x100000001b3ULL;
        }
        const std::uint64_t len = n;
        for (int i = 0; i < 8; ++i) {
            h = (h ^ ((len >> (8 * i)) & 0xFF)) * 0x100000001b3ULL;
        }
    }
    void add(const std::vector<std::uint8_t>& v) { add(v.data(), v.size()); }
    void add(const std::string& s) { add(s.data(), s.size()); }
};

ResourceRecord rr(std::string_view owner, std::uint16_t type, std::string rdata,
                  std::uint32_t ttl = 300) {
    ResourceRecord r;
    r.name = *Name::from_text(owner);
    r.type = type;
    r.rclass = rrclass::IN;
    r.ttl = ttl;
    r.rdata = std::move(rdata);
    return r;
}

Message response(std::string_view qname, std::uint16_t qtype, bool edns) {
    Message m;
    m.id = 0xBEEF;
    m.flags = kFlagQr | kFlagRd | kFlagRa;
    m.question.push_back(Question{*Name::from_text(qname), qtype, rrclass::IN});
    if (edns) {
        m.edns.emplace();
        m.edns->udp_size = 1232;
        m.edns->dnssec_ok = true;
    }
    return m;
}

std::string a_rdata(std::uint8_t last) {
    return std::string{'\xC0', '\x00', '\x02', char(last)};
}

/// A label of `n` octets from a seeded generator: letters of both cases, digits, '-', and
/// now and then an octet that presentation format escapes.
std::string random_label(std::mt19937& rng, std::size_t n) {
    static constexpr std::string_view kPlain = "abcXYZmnoPQ019-_";
    static constexpr std::string_view kOdd{".\\\"();@$ \x00\x7f\xff\x01", 14};
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s.push_back(rng() % 16 == 0 ? kOdd[rng() % kOdd.size()] : kPlain[rng() % kPlain.size()]);
    }
    return s;
}

Name name_of(const std::vector<std::string>& labels) {
    std::string wire;
    for (const auto& l : labels) {
        wire.push_back(static_cast<char>(l.size()));
        wire += l;
    }
    wire.push_back('\0');
    return Name::from_wire_unchecked(std::move(wire));
}

/// Names drawn from a small pool of labels (so suffixes repeat, in varying case), sometimes
/// with a long label so that offsets pass 0x4000 in big messages.
Name random_name(std::mt19937& rng, const std::vector<std::string>& pool) {
    std::vector<std::string> labels;
    const std::size_t n = rng() % 5;
    for (std::size_t i = 0; i < n; ++i) {
        std::string l =
            rng() % 13 == 0 ? random_label(rng, 1 + rng() % 63) : pool[rng() % pool.size()];
        if (rng() % 4 == 0) {
            for (auto& c : l) {
                if (c >= 'a' && c <= 'z' && rng() % 2 == 0) {
                    c = static_cast<char>(c - 'a' + 'A');
                }
            }
        }
        labels.push_back(std::move(l));
    }
    return name_of(labels);
}

Message random_message(std::mt19937& rng, const std::vector<std::string>& pool) {
    Message m;
    m.id = static_cast<std::uint16_t>(rng());
    m.flags = static_cast<std::uint16_t>(rng());
    const std::size_t qd = rng() % 8 == 0 ? rng() % 3 : 1;
    for (std::size_t i = 0; i < qd; ++i) {
        m.question.push_back(
            Question{random_name(rng, pool), static_cast<std::uint16_t>(rng() % 70), rrclass::IN});
    }
    const bool big = rng() % 10 == 0;
    for (auto* section : {&m.answer, &m.authority, &m.additional}) {
        const std::size_t count = rng() % (big ? 400 : 12);
        for (std::size_t i = 0; i < count; ++i) {
            ResourceRecord r;
            if (!section->empty() && rng() % 3 == 0) {
                r = section->back(); // the same RRset continues
                r.rdata = a_rdata(static_cast<std::uint8_t>(i));
            } else {
                r.name = random_name(rng, pool);
                r.type = static_cast<std::uint16_t>(rng() % 4 == 0 ? rrtype::TXT : rrtype::A);
                r.rclass = rng() % 20 == 0 ? rrclass::CH : rrclass::IN;
                r.ttl = static_cast<std::uint32_t>(rng());
                const std::size_t len = rng() % 50 == 0 ? 300 + rng() % 3000 : rng() % 40;
                r.rdata = random_label(rng, len);
            }
            section->push_back(std::move(r));
        }
    }
    if (rng() % 2 == 0) {
        m.edns.emplace();
        m.edns->udp_size = static_cast<std::uint16_t>(rng());
        m.edns->version = static_cast<std::uint8_t>(rng() % 3);
        m.edns->dnssec_ok = rng() % 2 == 0;
        const std::size_t opts = rng() % 3;
        for (std::size_t i = 0; i < opts; ++i) {
            m.edns->options.push_back(
                {static_cast<std::uint16_t>(rng()), random_label(rng, rng() % 20)});
        }
        m.set_rcode(static_cast<std::uint16_t>(rng() % 4096));
    }
    return m;
}

} // namespace

TEST_SUITE_BEGIN("wire.pinned");

TEST_CASE("a typical cache-hit answer: header, question, two A records, OPT") {
    Message m = response("www.example.com", rrtype::A, true);
    m.answer.push_back(rr("www.example.com", rrtype::A, a_rdata(1)));
    m.answer.push_back(rr("www.example.com", rrtype::A, a_rdata(2)));
    CHECK(hex(serialize(m)) ==
          "beef8180000100020000000103777777076578616d706c6503636f6d0000010001c00c000100010000012c00"
          "04c0000201c00c000100010000012c0004c000020200002904d0000080000000");
}

TEST_CASE("mixed-case names compress onto the first copy: CNAME chain, NS, glue") {
    Message m = response("WWW.Example.com", rrtype::AAAA, false);
    m.answer.push_back(rr("www.example.COM", rrtype::CNAME, std::string("\3cdn\3net\0", 9)));
    m.answer.push_back(rr("CDN.net", rrtype::AAAA, std::string(16, '\x20')));
    m.authority.push_back(rr("NET", rrtype::NS, std::string("\1a\3net\0", 7)));
    m.authority.push_back(rr("net", rrtype::NS, std::string("\1b\3net\0", 7)));
    m.additional.push_back(rr("a.Net", rrtype::A, a_rdata(9)));
    m.additional.push_back(rr("example.com", rrtype::A, a_rdata(10)));
    m.additional.push_back(rr("mail.cdn.NET", rrtype::A, a_rdata(11)));
    m.additional.push_back(rr(".", rrtype::A, a_rdata(12)));
    CHECK(hex(serialize(m)) ==
          "beef8180000100020002000403575757074578616d706c6503636f6d00001c0001c00c000500010000012c00"
          "090363646e036e6574000343444e036e657400001c00010000012c0010202020202020202020202020202020"
          "20c03a000200010000012c00070161036e657400c03a000200010000012c00070162036e6574000161c03a00"
          "0100010000012c0004c0000209c010000100010000012c0004c000020a046d61696cc036000100010000012c"
          "0004c000020b00000100010000012c0004c000020c");
}

TEST_CASE("truncation at each section: RRset-atomic, TC for answer and authority, OPT kept") {
    Message m = response("t.example", rrtype::A, true);
    m.set_rcode(rcode::BadVers);
    m.edns->options.push_back({edns_opt::Ede, std::string("\0\x17up", 4)});
    for (int i = 0; i < 6; ++i) {
        m.answer.push_back(rr("t.example", rrtype::A, a_rdata(static_cast<std::uint8_t>(i))));
    }
    m.answer.push_back(rr("t.example", rrtype::TXT, std::string(30, 't')));
    for (int i = 0; i < 4; ++i) {
        m.authority.push_back(rr("ns" + std::to_string(i) + ".example", rrtype::A, a_rdata(1)));
    }
    for (int i = 0; i < 4; ++i) {
        m.additional.push_back(rr("ns1.example", rrtype::AAAA, std::string(16, '\1')));
    }
    m.additional.push_back(rr("glue.example", rrtype::A, a_rdata(7)));
    std::vector<std::string> got;
    const std::string full = hex(serialize(m));
    for (std::size_t limit = 12; limit <= full.size() / 2 + 1; ++limit) {
        const auto w = serialize(m, limit);
        if (got.empty() || got.back() != hex(w)) {
            got.push_back(hex(w));
        }
    }
    Digest d;
    for (const auto& g : got) {
        d.add(g);
    }
    CHECK(got.size() == 9);
    CHECK(d.h == 2725432186607940709ULL);
    CHECK(got.front() ==
          "beef838000010000000000010174076578616d706c65000001000100002904d0010080000008000f00040017"
          "7570");
    CHECK(got[got.size() / 2] ==
          "beef838000010007000200010174076578616d706c650000010001c00c000100010000012c0004c0000200c0"
          "0c000100010000012c0004c0000201c00c000100010000012c0004c0000202c00c000100010000012c0004c0"
          "000203c00c000100010000012c0004c0000204c00c000100010000012c0004c0000205c00c00100001000001"
          "2c001e747474747474747474747474747474747474747474747474747474747474036e7330c00e0001000100"
          "00012c0004c0000201036e7331c00e000100010000012c0004c000020100002904d0010080000008000f0004"
          "00177570");
}

TEST_CASE("many names: the suffix table past 64 entries, and offsets past 0x4000") {
    Message m = response("q.zone.example", rrtype::TXT, true);
    // 200 distinct owners under a handful of zones: more than 64 remembered suffixes.
    for (int i = 0; i < 200; ++i) {
        const std::string zone =
            i % 3 == 0 ? "zone.example" : (i % 3 == 1 ? "ZONE.example" : "other.test");
        m.answer.push_back(rr("h" + std::to_string(i) + "." + zone, rrtype::A, a_rdata(1)));
    }
    // A big record pushes every later name past offset 0x4000, where new suffixes cannot be
    // pointed to but earlier ones still can.
    m.authority.push_back(rr("big.zone.example", rrtype::TXT, std::string(0x4100, 'b')));
    for (int i = 0; i < 50; ++i) {
        m.authority.push_back(
            rr("late" + std::to_string(i % 7) + ".far.away", rrtype::A, a_rdata(2)));
        m.authority.push_back(rr("h" + std::to_string(i) + ".Zone.Example", rrtype::A, a_rdata(3)));
    }
    const auto w = serialize(m);
    Digest d;
    d.add(w);
    CHECK(w.size() == 23160);
    CHECK(d.h == 6730265680307953292ULL);
    auto parsed = parse({w.data(), w.size()});
    REQUIRE(parsed);
    CHECK(parsed.message->authority.size() == m.authority.size());
    CHECK(parsed.message->authority.back().name == m.authority.back().name);
}

TEST_CASE("messages past 64 KiB are cut to 65535 bytes with TC") {
    Message m = response("huge.example", rrtype::TXT, true);
    for (int i = 0; i < 40; ++i) {
        m.answer.push_back(rr("r" + std::to_string(i) + ".huge.example", rrtype::TXT,
                              std::string(2000, static_cast<char>('a' + i % 26))));
    }
    const auto w = serialize(m);
    Digest d;
    d.add(w);
    CHECK(w.size() == 64543);
    CHECK(d.h == 8701154655235660250ULL);
    const auto w2 = serialize(m, 1232);
    d.add(w2);
    CHECK(w2.size() == 41);
    CHECK(d.h == 14917941846728298323ULL);
}

TEST_CASE("randomised messages serialize, at several size limits, to the pinned bytes") {
    std::mt19937 rng(14);
    std::vector<std::string> pool{"www", "example", "com", "Example", "net", "a",
                                  "b",   "mail",    "x-y", "zone",    "c"};
    Digest d;
    std::size_t total = 0;
    for (int i = 0; i < 3000; ++i) {
        const Message m = random_message(rng, pool);
        for (std::size_t limit : {std::size_t{512}, std::size_t{1232}, std::size_t{65535},
                                  std::size_t{12 + rng() % 600}}) {
            const auto w = serialize(m, limit);
            total += w.size();
            d.add(w);
        }
    }
    CHECK(total == 16393454);
    CHECK(d.h == 7790151973736374971ULL);
}

TEST_CASE("parse gives the same messages and the same failures for the same bytes") {
    std::mt19937 rng(1035);
    std::vector<std::string> pool{"www", "example", "com", "a", "b"};
    Digest d;
    std::size_t ok = 0;
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::uint8_t> w;
        if (i % 3 == 0) {
            w = serialize(random_message(rng, pool));
            // Damage a few octets: lengths, pointers, counts.
            const std::size_t hits = rng() % 4;
            for (std::size_t k = 0; k < hits && !w.empty(); ++k) {
                w[rng() % w.size()] = static_cast<std::uint8_t>(rng());
            }
            if (rng() % 4 == 0 && !w.empty()) {
                w.resize(rng() % w.size());
            }
        } else {
            w.resize(rng() % 120);
            for (auto& b : w) {
                b = static_cast<std::uint8_t>(rng() % 5 == 0 ? 0xC0 | (rng() % 64) : rng() % 70);
            }
            if (w.size() > 12) {
                w[4] = 0;
                w[5] = static_cast<std::uint8_t>(rng() % 3);
                w[6] = w[7] = w[8] = w[9] = w[10] = 0;
                w[11] = static_cast<std::uint8_t>(rng() % 2);
            }
        }
        for (bool trailing : {false, true}) {
            const auto p = parse({w.data(), w.size()}, {.allow_trailing = trailing});
            if (p) {
                ++ok;
                d.add(serialize(*p.message));
                for (const auto& q : p.message->question) {
                    d.add(q.qname.wire());
                }
                const std::uint64_t t = p.trailing;
                d.add(&t, sizeof t);
            } else {
                const std::uint8_t kind = static_cast<std::uint8_t>(p.failure.kind);
                d.add(&kind, 1);
                d.add(&p.failure.id, 2);
                d.add(&p.failure.flags, 2);
                d.add(p.failure.reason);
            }
        }
    }
    CHECK(ok == 10342);
    CHECK(d.h == 12885587723882434514ULL);
}

TEST_CASE("name reading errors: loops, forward pointers, long names, label types") {
    auto question = [](std::vector<std::uint8_t> name) {
        std::vector<std::uint8_t> w{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
        w.insert(w.end(), name.begin(), name.end());
        w.insert(w.end(), {0, 1, 0, 1});
        return w;
    };
    std::vector<std::vector<std::uint8_t>> cases{
        {0xC0, 12},         // points at itself
        {1, 'a', 0xC0, 12}, // a loop through a label
        {0xC0, 13},         // forward
        {0x40, 'a', 0},     // extended label type
        {0x80, 'a', 0},     // reserved label type
        {3, 'a', 'b'},      // cut inside a label
        {0xC0},             // cut inside a pointer
        {63},               // a label past the end
    };
    std::vector<std::uint8_t> long_name; // 4 x 63-octet labels + root = 257 > 255
    for (int i = 0; i < 4; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'x');
    }
    long_name.push_back(0);
    cases.push_back(long_name);
    std::vector<std::uint8_t> max_name; // 3 x 63 + 1 x 61 + root = 255: the longest allowed
    for (int i = 0; i < 3; ++i) {
        max_name.push_back(63);
        max_name.insert(max_name.end(), 63, 'y');
    }
    max_name.push_back(61);
    max_name.insert(max_name.end(), 61, 'Z');
    max_name.push_back(0);
    cases.push_back(max_name);
    std::string reasons;
    for (const auto& c : cases) {
        const auto w = question(c);
        const auto p = parse({w.data(), w.size()});
        reasons += p ? "ok:" + std::to_string(p.message->question[0].qname.wire().size())
                     : p.failure.reason;
        reasons += ";";
    }
    CHECK(reasons == "malformed question;malformed question;malformed question;malformed question;"
                     "malformed question;malformed question;malformed question;malformed question;"
                     "malformed question;ok:255;");
    // A pointer into an earlier record's name, and a name that ends in a pointer chain.
    std::vector<std::uint8_t> w{
        0x12, 0x34, 0x81, 0x80, 0,   1,    0,  2, 0, 0, 0, 0, 3, 'w', 'w', 'w', 1, 'e', 0, 0,
        1,    0,    1,    1,    'x', 0xC0, 16, 0, 1, 0, 1, 0, 0, 0,   5,   0,   4, 1,   2, 3,
        4,    1,    'y',  0xC0, 23,  0,    1,  0, 1, 0, 0, 0, 5, 0,   4,   5,   6, 7,   8};
    const auto p = parse({w.data(), w.size()});
    REQUIRE(p);
    CHECK(p.message->answer[1].name.to_text() == "y.x.e.");
    CHECK(hex(serialize(*p.message)) ==
          "12348180000100020000000003777777016500000100010178c01000010001000000050004010203040179c0"
          "170001000100000005000405060708");
}

TEST_CASE("to_gateway_text and to_text for every octet, escapes and case") {
    Digest d;
    for (unsigned c = 0; c < 256; ++c) {
        const std::string label{'A', static_cast<char>(c), 'z'};
        const Name n = name_of({label, "Example", std::string(1, static_cast<char>(c))});
        std::string text = "recycled storage with something in it";
        n.to_gateway_text(text);
        d.add(text);
        d.add(n.to_text());
        CHECK(n.to_gateway_text() == text);
    }
    CHECK(d.h == 10291728045704891561ULL);
    const Name odd = name_of({"Ab.c", "x\\y", "sp ace", std::string("\0\x7f\xff", 3), "(@$;\")"});
    CHECK(odd.to_gateway_text() == R"x(ab\.c.x\\y.sp\032ace.\000\127\255.\(\@\$\;\"\))x");
    CHECK(odd.to_text() == R"x(Ab\.c.x\\y.sp\032ace.\000\127\255.\(\@\$\;\"\).)x");
    CHECK(name_of({std::string(63, 'Q'), "Org"}).to_gateway_text() ==
          std::string(63, 'q') + ".org");
    CHECK(Name().to_text() == ".");
    std::string text = "x";
    Name().to_gateway_text(text);
    CHECK(text == ".");
}

TEST_SUITE_END();

TEST_CASE("word-at-a-time folding agrees with octet-by-octet RFC 4343 comparison") {
    auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
    auto reference = [&](const std::string& a, const std::string& b) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (lower(static_cast<unsigned char>(a[i])) !=
                lower(static_cast<unsigned char>(b[i]))) {
                return false;
            }
        }
        return true;
    };
    // Every pair of octets, alone and inside words of every length up to 24.
    for (unsigned x = 0; x < 256; ++x) {
        for (unsigned y = 0; y < 256; ++y) {
            for (std::size_t n : {std::size_t{1}, std::size_t{8}, std::size_t{13}}) {
                std::string a(n, 'q');
                std::string b(n, 'Q');
                a[n / 2] = static_cast<char>(x);
                b[n / 2] = static_cast<char>(y);
                REQUIRE(fold::equal(a.data(), b.data(), n) == reference(a, b));
            }
        }
    }
    std::mt19937 rng(4343);
    for (int i = 0; i < 20000; ++i) {
        const std::size_t n = rng() % 25;
        std::string a = random_label(rng, n);
        std::string b = a;
        for (auto& c : b) {
            if (rng() % 3 == 0) {
                c = static_cast<char>(c ^ 0x20); // a case flip, or a different octet
            }
        }
        if (n > 0 && rng() % 4 == 0) {
            b[rng() % n] = static_cast<char>(rng());
        }
        CHECK(fold::equal(a.data(), b.data(), n) == reference(a, b));
        CHECK((Name::from_wire_unchecked(a) == Name::from_wire_unchecked(b)) == reference(a, b));
    }
}

TEST_CASE("a compressed name may reach 255 octets through pointers, not one more") {
    // Question 1 at offset 12: three 63-octet labels, 193 octets. Question 2: one label and a
    // pointer to question 1, `extra` + 1 + 193 octets in all.
    auto message = [](std::size_t extra, std::uint8_t second_hop) {
        std::vector<std::uint8_t> w{0x12, 0x34, 0x01, 0x00, 0, 3, 0, 0, 0, 0, 0, 0};
        for (char c : {'a', 'b', 'c'}) {
            w.push_back(63);
            w.insert(w.end(), 63, static_cast<std::uint8_t>(c));
        }
        w.insert(w.end(), {0, 0, 1, 0, 1});
        const std::size_t second = w.size();
        w.push_back(static_cast<std::uint8_t>(extra));
        w.insert(w.end(), extra, 'd');
        w.insert(w.end(), {0xC0, 12, 0, 1, 0, 1});
        // Question 3: a 1-octet label and a pointer to question 2 (two hops), or the root.
        if (second_hop != 0) {
            w.insert(w.end(), {1, 'x', 0xC0, static_cast<std::uint8_t>(second)});
        } else {
            w.push_back(0);
        }
        w.insert(w.end(), {0, 1, 0, 1});
        return w;
    };
    const auto fits = message(61, 0); // 1 + 61 + 193 = 255
    auto p = parse({fits.data(), fits.size()});
    REQUIRE(p);
    CHECK(p.message->question[1].qname.wire().size() == 255);
    const auto over = message(62, 0); // 256
    p = parse({over.data(), over.size()});
    CHECK_FALSE(p);
    CHECK(p.failure.reason == "malformed question");
    const auto hops = message(59, 1); // question 3: 2 + 253 = 255 through two pointers
    p = parse({hops.data(), hops.size()});
    REQUIRE(p);
    CHECK(p.message->question[2].qname.wire().size() == 255);
    const auto hops_over = message(60, 1); // 2 + 254 = 256
    p = parse({hops_over.data(), hops_over.size()});
    CHECK_FALSE(p);
}

TEST_CASE("serialize into a sent answer's memory writes exactly what serialize writes afresh") {
    // The UDP path hands each answer's buffer back (QueryHandler::reclaim) to hold a later one:
    // whatever the old buffer held, and however large or small it was, nothing of it is left.
    std::mt19937 rng(21);
    std::vector<std::string> pool{"www", "example", "com", "Mail", "net", "a", "b"};
    std::vector<std::uint8_t> storage;
    for (int i = 0; i < 2000; ++i) {
        const Message m = random_message(rng, pool);
        const std::size_t limit = i % 2 == 0 ? 65535 : 12 + rng() % 600;
        const auto fresh = serialize(m, limit);
        auto reused = serialize(m, limit, std::move(storage));
        REQUIRE(reused == fresh);
        storage = std::move(reused);
        storage.resize(storage.size() + rng() % 64, 0xAB); // stale octets past the message
    }
    // An ordinary answer in a buffer with room for it is written in place: no allocation.
    const Message typical = response("www.example.com", rrtype::A, true);
    std::vector<std::uint8_t> room(4096, 0xCD);
    const auto* memory = room.data();
    const auto written = serialize(typical, 1232, std::move(room));
    CHECK(written.data() == memory);
    CHECK(written == serialize(typical, 1232));
}
