/* The table of device communicators (lib/dist/dist_device.h) that
 * dist_use_device looks up: a new kind is its file and one line in
 * lib/dist/dist_devices.c. */
#ifndef DNL_DIST_DEVICES_H
#define DNL_DIST_DEVICES_H

#include "lib/dist/dist_device.h"

/* The communicator for buffers in device's memory, or NULL when there is none
 * (they then go through host copies). */
const dist_device_comm *dist_device_comm_for(dnl_device device);

#endif
