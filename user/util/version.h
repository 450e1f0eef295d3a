/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GCBPF_VERSION_H
#define GCBPF_VERSION_H

#define GCBPF_VERSION "0.1"

#endif
