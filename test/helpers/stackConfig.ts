import * as path from "path";

export { rawStackConfig, stackFileConfig as stackConfig } from "../../config/stackFile";
export const REPO_ROOT = path.resolve(__dirname, "../..");
export type StackName = "dev" | "prod";
