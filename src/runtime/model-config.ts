// The subset of Triton's ModelConfig proto (model_config.proto) that dawnserve honours, with
// proto field names kept in snake_case so `GET /v2/models/<m>/config` is this object as JSON.
import type { ConfigDataType } from './types.js';

export interface ModelTensorReshape { shape: number[] }

export interface ModelInput {
  name: string;
  data_type: ConfigDataType;
  format: string;            // FORMAT_NONE | FORMAT_NHWC | FORMAT_NCHW
  dims: number[];
  reshape?: ModelTensorReshape;
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
}

export interface ModelOutput {
  name: string;
  data_type: ConfigDataType;
  dims: number[];
  reshape?: ModelTensorReshape;
  label_filename: string;
  is_shape_tensor: boolean;
}

export type ModelVersionPolicy =
  | { latest: { num_versions: number } }
  | { all: Record<string, never> }
  | { specific: { versions: number[] } };

export interface ModelQueuePolicy {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export interface ModelDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy?: ModelQueuePolicy;
  /** Per priority level ("1".."priority_levels", the protobuf JSON map keys); Triton always shows it, {} when empty. */
  priority_queue_policy: Record<string, ModelQueuePolicy>;
}

export type SequenceControlKind =
  | 'CONTROL_SEQUENCE_START' | 'CONTROL_SEQUENCE_READY' | 'CONTROL_SEQUENCE_END' | 'CONTROL_SEQUENCE_CORRID';

export interface ModelSequenceControl {
  kind: SequenceControlKind;
  int32_false_true: number[];
  fp32_false_true: number[];
  bool_false_true: boolean[];
  /** CONTROL_SEQUENCE_CORRID only: the tensor's datatype. */
  data_type: ConfigDataType;
}

export interface ModelSequenceControlInput {
  name: string;
  control: ModelSequenceControl[];
}

export interface ModelSequenceBatching {
  max_sequence_idle_microseconds: number;
  control_input: ModelSequenceControlInput[];
  /** Accepted and shown as written (direct/oldest strategy, implicit state, ...); not executed. */
  [field: string]: unknown;
}

export type InstanceKind = 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';

export interface ModelInstanceGroup {
  name: string;
  kind: InstanceKind;
  count: number;
  gpus: number[];
}

export interface ModelParameter { string_value: string }

export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  version_policy: ModelVersionPolicy;
  max_batch_size: number;
  input: ModelInput[];
  output: ModelOutput[];
  instance_group: ModelInstanceGroup[];
  default_model_filename: string;
  parameters: Record<string, ModelParameter>;
  dynamic_batching?: ModelDynamicBatching;
  sequence_batching?: ModelSequenceBatching;
  model_transaction_policy?: { decoupled: boolean };
}
