// File-system IOHandlers for TF.js models. tfjs's own `file://` handler lives in tfjs-node, which
// we do not have (and do not want to require just for reading files).
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Reads `model.json` and its weight shards (paths relative to the json's folder). */
export async function readModelJson(modelJsonPath: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch {
    throw new Error(`TF.js model file ${modelJsonPath} not found`);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new Error(`${modelJsonPath} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof json !== 'object' || json === null || json.modelTopology == null) {
    throw new Error(`${modelJsonPath} is not a TF.js model.json (no modelTopology)`);
  }
  return json;
}

export function fileSystemLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  const dir = path.dirname(modelJsonPath);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = await readModelJson(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const file = path.resolve(dir, p);
            // Shards must stay inside the model folder: a model.json is data, not a path to trust.
            if (path.relative(dir, file).startsWith('..')) throw new Error(`weight shard '${p}' is outside ${dir}`);
            const b = await readFile(file);
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          }
        }
        return [tf.io.getWeightSpecs(manifest), buffers];
      });
    },
  };
}

/** Writes `model.json` + one shard `group1-shard1of1.bin` into `dir` (used by the model scripts). */
export function fileSystemSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(dir, { recursive: true });
      const shard = 'group1-shard1of1.bin';
      const weights = artifacts.weightData ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)) : new Uint8Array(0);
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [shard], weights: artifacts.weightSpecs ?? [] }];
      // tf.io does not export getModelJSONForModelArtifacts; this is the same object.
      const json: tf.io.ModelJSON = { modelTopology: artifacts.modelTopology as {}, weightsManifest: manifest };
      if (artifacts.format !== undefined) json.format = artifacts.format;
      if (artifacts.generatedBy !== undefined) json.generatedBy = artifacts.generatedBy;
      if (artifacts.convertedBy !== undefined) json.convertedBy = artifacts.convertedBy;
      if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature !== undefined) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      await writeFile(path.join(dir, shard), weights);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}
