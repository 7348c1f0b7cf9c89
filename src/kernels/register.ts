// Placeholder until the kernels work lands.
export async function registerDawnKernels(): Promise<string[]> {
  return [];
}
