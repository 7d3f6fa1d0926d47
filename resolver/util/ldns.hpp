// SPDX-License-Identifier: MIT
#pragma once
// ldns/common.h defines `bool`, `true` and `false` as macros unless stdbool.h was seen first,
// which breaks C++ headers included later (e.g. <optional>'s operator<=>). Always include
// ldns through this header.
#include <stdbool.h> // NOLINT(modernize-deprecated-headers): must precede ldns
#include <ldns/ldns.h>
