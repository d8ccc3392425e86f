/* The CUDA backend table and its one-time opening: device check, cuBLAS and
 * cuDNN handles, reduction scratch. Ops without a CUDA version yet stay NULL so
 * that backend_check() names them. */
#include <stdio.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

static cublasHandle_t cublas_handle;
static cudnnHandle_t cudnn_handle;

cublasHandle_t cuda_cublas_handle(void) { return cublas_handle; }
cudnnHandle_t cuda_cudnn_handle(void) { return cudnn_handle; }

static dnl_backend make_table(void) {
  dnl_backend t = {};
  t.name = "cuda";
  t.device = DEVICE_CUDA;
  t.alloc = cuda_alloc;
  t.free = cuda_free;
  t.memcpy = cuda_memcpy;
  t.fill = cuda_fill;
  t.synchronize = cuda_synchronize;
  t.host_alloc_pinned = cuda_host_alloc_pinned;
  t.host_free_pinned = cuda_host_free_pinned;
  t.upload_async = cuda_upload_async;
  t.upload_wait = cuda_upload_wait;
  t.memory_usage = cuda_memory_usage;
  t.sgemm = cuda_sgemm;
  t.sgemm_batched = cuda_sgemm_batched;
  t.axpy = cuda_axpy;
  t.scale = cuda_scale;
  t.add = cuda_add;
  t.sum = cuda_sum;
  t.count_nonfinite = cuda_count_nonfinite;
  t.relu_forward = cuda_relu_forward;
  t.relu_backward = cuda_relu_backward;
  t.softmax_forward = cuda_softmax_forward;
  t.softmax_backward = cuda_softmax_backward;
  t.sgd_update = cuda_sgd_update;
  t.attention_workspace = cuda_attention_workspace;
  t.attention_reference_forward = cuda_attention_reference_forward;
  t.attention_reference_backward = cuda_attention_reference_backward;
  t.attention_fused_forward = cuda_attention_fused_forward;
  t.attention_fused_backward = cuda_attention_fused_backward;
  t.channel_scale_forward = cuda_channel_scale_forward;
  t.channel_scale_backward = cuda_channel_scale_backward;
  t.copy_channels = cuda_copy_channels;
  t.maxpool_forward = cuda_maxpool_forward;
  t.maxpool_backward = cuda_maxpool_backward;
  t.resize_forward = cuda_resize_forward;
  t.resize_backward = cuda_resize_backward;
  t.ce_prob_gt = cuda_ce_prob_gt;
  t.select_kth = cuda_select_kth;
  t.ce_forward_backward = cuda_ce_forward_backward;
  t.center_rows = cuda_center_rows;
  t.attention_combine_forward = cuda_attention_combine_forward;
  t.attention_combine_backward = cuda_attention_combine_backward;
  t.conv2d_workspace = cuda_conv2d_workspace;
  t.conv2d_forward = cuda_conv2d_forward;
  t.conv2d_backward = cuda_conv2d_backward;
  t.bn_stats = cuda_bn_stats;
  t.bn_forward_apply = cuda_bn_forward_apply;
  t.bn_forward_eval = cuda_bn_forward_eval;
  t.bn_backward_stats = cuda_bn_backward_stats;
  t.bn_backward_apply = cuda_bn_backward_apply;
  t.group_norm_forward = cuda_group_norm_forward;
  t.group_norm_backward = cuda_group_norm_backward;
  return t;
}

static const dnl_backend cuda_table = make_table();

/* cuda_backend_select_device's index, and whether open_device has used it */
static int selected_device = 0;
static bool device_chosen = false;

dnl_status cuda_backend_select_device(int index) {
  if (index < 0)
    return dnl_error(DNL_ERR_ARG, "cuda: device index %d < 0", index);
  if (device_chosen && index != selected_device)
    return dnl_error(DNL_ERR_ARG,
                     "cuda: device index %d chosen after the backend opened with index %d",
                     index, selected_device);
  selected_device = index;
  return DNL_OK;
}

static dnl_status open_device(void) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess)
    return dnl_error(DNL_ERR_UNSUPPORTED, "no CUDA device found (cudaGetDeviceCount: %s)",
                     cudaGetErrorString(e));
  if (count == 0)
    return dnl_error(DNL_ERR_UNSUPPORTED, "no CUDA device found (cudaGetDeviceCount: 0)");
  /* among the GPUs CUDA_VISIBLE_DEVICES leaves: one per data-parallel rank */
  device_chosen = true;
  CUDA_CHECK(cudaSetDevice(selected_device % count));
  CUBLAS_CHECK(cublasCreate(&cublas_handle));
  /* plain FP32 results (no TF32), so that GPU and CPU agree to float rounding */
  CUBLAS_CHECK(cublasSetMathMode(cublas_handle, CUBLAS_DEFAULT_MATH));
  CUDNN_CHECK(cudnnCreate(&cudnn_handle));
  return cuda_reduce_init();
}

/* Opening happens once per process; later calls repeat the first outcome. */
struct open_result {
  dnl_status status;
  char message[512];
};

static open_result open_once(void) {
  open_result r;
  r.status = open_device();
  snprintf(r.message, sizeof r.message, "%s", r.status == DNL_OK ? "" : dnl_last_error());
  return r;
}

dnl_status cuda_backend_open(const dnl_backend **out) {
  static const open_result opened = open_once(); /* thread-safe in C++11 */
  if (opened.status != DNL_OK) {
    *out = NULL;
    return dnl_error(opened.status, "%s", opened.message);
  }
  *out = &cuda_table;
  return DNL_OK;
}
